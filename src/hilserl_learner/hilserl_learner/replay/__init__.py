"""Replay buffers (online and demo), RLPD batch mixing and the on-disk transition journal."""

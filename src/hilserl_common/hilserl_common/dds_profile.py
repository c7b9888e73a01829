"""The Fast DDS profile of a graph split over machines on one robot network (the robot computer
beside the arm, the GPU box with the learner): UDP on the robot network's interface only, the
other machines contacted by address, and socket receive buffers that take a weights message at
once.

    python -m hilserl_common.dds_profile --address 192.168.50.2 --peer 192.168.50.3 \\
        > ~/robot_network.xml
    export FASTRTPS_DEFAULT_PROFILES_FILE=~/robot_network.xml   # before starting the nodes

Why the receive buffer: a weights message (1.75 MB) arrives as 64 kB datagrams. With the
kernel's default socket buffer (about 208 kB) the robot computer dropped many of them and the
learner sent them again, more than doubling the bytes and the latency of each update; 4 MB
buffers took every message whole, also with 2% of the packets lost (docs/RESULTS.md, "The
learner on another host"). Datagrams of one packet each were slower in every case.
"""
import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
RMEM_MAX = Path('/proc/sys/net/core/rmem_max')  # the kernel's cap on a socket's receive buffer
# Fast DDS finds participants at the peers' ports for participant ids 0..N-1 (default 4); a
# robot computer runs about eight (one per node).
MAX_PARTICIPANTS_PER_HOST = 16


def fast_dds_profile(address: str, peers: Sequence[str],
                     receive_buffer_size: Optional[int] = RECEIVE_BUFFER_BYTES,
                     max_message_size: Optional[int] = None) -> str:
    """The profile for every participant of the machine at `address`: UDPv4 on that address
    only (no shared memory and no other interface, so nothing leaves but over the robot
    network), discovery by unicast to this machine and `peers` besides multicast.
    `receive_buffer_size` (bytes; None: the kernel's default) is capped by the kernel at
    net.core.rmem_max. `max_message_size`: the largest datagram sent (None: Fast DDS's 65500
    bytes, which IP splits into about 45 packets)."""
    locators = ''.join(f'<locator><udpv4><address>{a}</address></udpv4></locator>'
                       for a in (address, *peers))
    sizes = ''
    if max_message_size:
        sizes += f'\n      <maxMessageSize>{max_message_size}</maxMessageSize>'
    if receive_buffer_size:
        sizes += f'\n      <receiveBufferSize>{receive_buffer_size}</receiveBufferSize>'
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>robot_network_udp</transport_id>
      <type>UDPv4</type>
      <interfaceWhiteList><address>{address}</address></interfaceWhiteList>
      <maxInitialPeersRange>{MAX_PARTICIPANTS_PER_HOST}</maxInitialPeersRange>{sizes}
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="robot_network" is_default_profile="true">
    <rtps>
      <userTransports><transport_id>robot_network_udp</transport_id></userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
      <builtin>
        <initialPeersList>{locators}</initialPeersList>
      </builtin>
    </rtps>
  </participant>
</profiles>
'''


def kernel_receive_buffer_cap() -> Optional[int]:
    """net.core.rmem_max of this machine (bytes); None where it cannot be read."""
    try:
        return int(RMEM_MAX.read_text())
    except (OSError, ValueError):
        return None


def rmem_max_note(receive_buffer_size: int) -> str:
    """What to run when the kernel would cap the buffer below `receive_buffer_size`; ''."""
    cap = kernel_receive_buffer_cap()
    if cap is None or cap >= receive_buffer_size:
        return ''
    return (f'note: this kernel caps a socket\'s receive buffer at {cap} bytes '
            f'(net.core.rmem_max); raise it for the profile\'s {receive_buffer_size}: '
            f'sudo sysctl -w net.core.rmem_max={receive_buffer_size}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--address', required=True,
                        help='this machine\'s address on the robot network')
    parser.add_argument('--peer', action='append', required=True,
                        help='the address of another machine of the graph (repeat for each)')
    parser.add_argument('--receive-buffer', type=int, default=RECEIVE_BUFFER_BYTES,
                        help='socket receive buffer, bytes (0: the kernel default)')
    args = parser.parse_args(argv)
    if args.receive_buffer < 0:
        parser.error(f'--receive-buffer {args.receive_buffer}: bytes, 0 or more')
    print(fast_dds_profile(args.address, args.peer, args.receive_buffer or None), end='')
    note = rmem_max_note(args.receive_buffer)
    if note:
        print(note, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())

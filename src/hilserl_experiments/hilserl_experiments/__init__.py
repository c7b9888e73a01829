"""The experiments on the SO-101: the main job and its stages, the in-process harness, the
image encoder's pretraining, the report and the real-arm rehearsal; one config file per experiment
under experiments/."""

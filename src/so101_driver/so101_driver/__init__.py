"""SO-101 follower and leader drivers over the Feetech bus, the wrist camera, and an emulated
STS3215 bus for tests. The MuJoCo simulation behind the same topics is the so101_sim package.
"""

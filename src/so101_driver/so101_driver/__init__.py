"""SO-101 follower and leader drivers over the Feetech bus, the wrist camera, the MuJoCo simulation
backend and simulated operator, and an emulated STS3215 bus for tests.
"""

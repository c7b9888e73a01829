"""The 10 Hz HIL-SERL episode loop: observation assembly, policy, operator interventions, reset,
termination, transitions out and weights in.
"""

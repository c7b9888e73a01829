"""Code every package of the workspace shares: validated node parameters, named QoS profiles, node
start-up and shutdown, image preprocessing.
"""

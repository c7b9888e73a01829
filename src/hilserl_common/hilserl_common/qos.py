"""The QoS profiles of the workspace, named for what they carry (see docs/CONVENTIONS.md)."""
from rclpy.qos import (
                       DurabilityPolicy,
                       HistoryPolicy,
                       QoSProfile,
                       ReliabilityPolicy,
                       qos_profile_sensor_data,
)

# Camera frames: the newest frame matters, a lost one does not.
SENSOR = qos_profile_sensor_data

# Joint states and poses: small, frequent, and every consumer wants each one.
SENSOR_RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             history=HistoryPolicy.KEEP_LAST)

# Commands, events and statistics: reliable, nothing latched.
COMMANDS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST)

# Transitions: reliable with room for a learner that is busy for a few seconds.
TRANSITIONS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST)

# Policy weights and other latched information: a late joiner gets the last one.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     history=HistoryPolicy.KEEP_LAST)

CLOCK = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                   history=HistoryPolicy.KEEP_LAST)

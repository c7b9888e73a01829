"""The operator console: one web page for the person standing at the robot."""

"""Demonstrations from rosbag2 recordings (MCAP or sqlite3), converted to
transitions at the control rate and cached."""

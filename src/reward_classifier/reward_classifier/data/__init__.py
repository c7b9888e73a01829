"""Labelled frames for the reward classifier: label files, frames from rosbag2 recordings,
the frame-based split and image augmentation."""

"""The wrist camera: OpenCV capture that reconnects, and its ROS node."""

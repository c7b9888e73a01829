# Source this file (after scripts/setup) to use the workspace from a shell:
#   source scripts/env.sh
# It activates the virtual environment, overlays the colcon install space, and keeps ROS 2
# traffic on this machine: localhost-only discovery and a domain id of the workspace's own.

_hilserl_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_hilserl_venv=${HILSERL_VENV:-$_hilserl_root/.venv}

# shellcheck disable=SC1091
source "$_hilserl_venv/bin/activate"
# shellcheck disable=SC1091
source "$_hilserl_root/install/setup.bash"

# The ROS wheels live in the venv prefix: ament_index and CMake look there too.
export AMENT_PREFIX_PATH=${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$_hilserl_venv
export CMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH:}$_hilserl_venv

# Set the library path the wheels' bootstrapper would set, so Python does not re-execute
# itself on every import of rclpy (it would, in every test process and node otherwise).
_hilserl_libs=$(ls -d "$_hilserl_venv"/lib/python3.11/site-packages/ros_*.libs 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH=$_hilserl_venv/lib:${_hilserl_libs}${LD_LIBRARY_PATH:-}
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1

# `run_graph` (the runner) and `reward_classifier_cli` on the PATH, as `ros2 run` would find them.
export PATH=$_hilserl_root/install/hilserl_bringup/lib/hilserl_bringup:$_hilserl_root/install/reward_classifier/lib/reward_classifier:$PATH

export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
# Simulated graphs never leave this machine; set ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET to put
# the learner on another machine (docs/ARCHITECTURE.md, "Isolation and a learner on a second
# machine").
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-42}
export MUJOCO_GL=${MUJOCO_GL:-egl}

unset _hilserl_root _hilserl_venv _hilserl_libs

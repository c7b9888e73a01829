"""The message types bags are written and read with: ROS 2 Jazzy's, plus this workspace's own
(read from the installed hilserl_interfaces .msg files, so a bag without stored definitions
still reads)."""
import functools
from pathlib import Path
from typing import Optional

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

INTERFACES = 'hilserl_interfaces'


def interface_definitions() -> Optional[Path]:
    """Where the workspace's .msg files are installed; None when hilserl_interfaces is not."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:  # rosbags alone: the bag's own definitions are all there is
        return None
    try:
        return Path(get_package_share_directory(INTERFACES)) / 'msg'
    except PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=None)
def typestore():
    """The Jazzy typestore with the workspace's messages (one per process: only read after it is
    built, so every thread may share it)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    share = interface_definitions()
    types = {}
    for definition in sorted(share.glob('*.msg')) if share else []:
        types.update(get_types_from_msg(definition.read_text(),
                                        f'{INTERFACES}/msg/{definition.stem}'))
    store.register(types)
    return store

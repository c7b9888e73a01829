"""Episode bags made from arrays rather than recorded from topics (simulated classifier datasets,
mined frames, tests), with the topics and types a recording of the actor has."""
from pathlib import Path
from typing import Sequence

import numpy as np

from hilserl_common.bags.layout import (
    GRASP_STATE,
    GRASP_STATE_TYPE,
    IMAGE,
    JOINT_STATE,
    JOINT_STATES,
    image_proc,
)
from hilserl_common.bags.writer import BagWriter, header
from hilserl_common.preprocessing import IMAGE_SIZE


class EpisodeBagWriter:
    """One episode: the processed images of each camera and the joint states (namespace prefix
    optional), and in simulation the privileged grasp state the labels come from."""

    def __init__(self, path: Path, namespace: str = '', grasp_state: bool = False,
                 cameras: Sequence[str] = ('wrist_camera',)):
        self.path = Path(path)
        self._topics = {camera: (image_proc(camera), IMAGE) for camera in cameras}
        self._topics['joints'] = (JOINT_STATES, JOINT_STATE)
        if grasp_state:
            self._topics['grasp'] = (GRASP_STATE, GRASP_STATE_TYPE)
        self._namespace = namespace
        self._bag = None

    def __enter__(self):
        self._bag = BagWriter(self.path)
        for key, (topic, msgtype) in self._topics.items():
            self._bag.add(key, topic, msgtype, self._namespace)
        return self

    def __exit__(self, *exc):
        self._bag.close()

    @property
    def _types(self):
        return self._bag.store.types

    def write_image(self, stamp_ns: int, rgb: np.ndarray, camera: str = 'wrist_camera'):
        if rgb.shape != (IMAGE_SIZE, IMAGE_SIZE, 3) or rgb.dtype != np.uint8:
            raise ValueError(f'expected a processed {IMAGE_SIZE}x{IMAGE_SIZE}x3 uint8 frame, '
                             f'got {rgb.shape} {rgb.dtype}')
        msg = self._types[IMAGE](
            header=header(self._bag.store, stamp_ns, camera), height=IMAGE_SIZE,
            width=IMAGE_SIZE, encoding='rgb8', is_bigendian=0, step=IMAGE_SIZE * 3,
            data=np.ascontiguousarray(rgb).reshape(-1))
        self._bag.write_message(camera, stamp_ns, msg)

    def write_joint_state(self, stamp_ns: int, names: Sequence[str], positions,
                          velocities=()):
        msg = self._types[JOINT_STATE](
            header=header(self._bag.store, stamp_ns, 'base'), name=list(names),
            position=np.asarray(positions, dtype=np.float64),
            velocity=np.asarray(velocities, dtype=np.float64),
            effort=np.zeros(0, dtype=np.float64))
        self._bag.write_message('joints', stamp_ns, msg)

    def write_grasp_state(self, stamp_ns: int, cube_position, cube_quat_wxyz,
                          gripper_contact: bool, grasped: bool, cube_height_m: float,
                          success: bool):
        types = self._types
        w, x, y, z = (float(v) for v in cube_quat_wxyz)
        pose = types['geometry_msgs/msg/Pose'](
            position=types['geometry_msgs/msg/Point'](*(float(v) for v in cube_position)),
            orientation=types['geometry_msgs/msg/Quaternion'](x=x, y=y, z=z, w=w))
        msg = types[GRASP_STATE_TYPE](header=header(self._bag.store, stamp_ns, 'base'),
                                      cube_pose=pose, gripper_contact=bool(gripper_contact),
                                      grasped=bool(grasped), cube_height=float(cube_height_m),
                                      success=bool(success))
        self._bag.write_message('grasp', stamp_ns, msg)

"""Fixtures of the kinematics tests: one Kinematics and a servo plant."""
import mujoco
import pytest

from so101_description.model import load_spec
from so101_kinematics.kinematics import Kinematics


@pytest.fixture(scope='session')
def kinematics():
    return Kinematics()


class ServoPlant:
    """The arm without meshes under gravity, driven by the model's own STS3215 position
    actuators: it sags and lags like the real servos, which is what closed-loop control and the
    reset have to cope with."""

    def __init__(self, joints, control_period_s=0.1):
        self.model = load_spec(with_meshes=False).compile()
        self.data = mujoco.MjData(self.model)
        self.data.qpos[:] = joints
        self.data.ctrl[:] = joints
        self.substeps = int(round(control_period_s / self.model.opt.timestep))

    def read(self):
        return self.data.qpos.copy()

    def command(self, joints):
        self.data.ctrl[:] = joints

    def wait(self):
        for _ in range(self.substeps):
            mujoco.mj_step(self.model, self.data)


@pytest.fixture
def plant_factory():
    return ServoPlant

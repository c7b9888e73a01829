"""config/follower.yaml, leader.yaml and camera.yaml hold exactly the drivers' parameters."""
import pathlib

import pytest

from hilserl_common.config import ConfigError, from_dict, load_yaml_section
from so101_driver.camera.config import CameraConfig
from so101_driver.follower.config import FollowerConfig
from so101_driver.leader.config import LeaderConfig

CONFIG = pathlib.Path(__file__).resolve().parents[3] / 'config'


@pytest.mark.parametrize('file, node, config_class, graph_owned', [
    ('follower.yaml', 'follower', FollowerConfig, set()),
    ('leader.yaml', 'leader', LeaderConfig, set()),
    # the sources come from the launch arguments camera:= and front_camera:=
    ('camera.yaml', 'wrist_camera', CameraConfig, {'source'}),
    ('camera.yaml', 'front_camera', CameraConfig, {'source'}),
])
def test_each_yaml_matches_its_config_class(file, node, config_class, graph_owned):
    values = load_yaml_section(str(CONFIG / file), node)
    config = from_dict(config_class, values, file)
    fields = {f for f in config_class.__dataclass_fields__}
    assert set(values) == fields - graph_owned, 'every field is listed'
    assert config == config_class(), 'the file documents the defaults'


def test_a_wrong_value_is_named():
    with pytest.raises(ConfigError, match=r"'max_speed_rad_s' = \[1.0\] is not allowed"):
        from_dict(FollowerConfig, {'max_speed_rad_s': [1.0]}, 'follower.yaml')

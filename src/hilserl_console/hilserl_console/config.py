"""Parameters of the console node (config/console.yaml)."""
import dataclasses

from hilserl_common.config import in_range, param, positive


def _camera_names(value):
    return None if all(isinstance(v, str) and v for v in value) else 'a list of camera names'


@dataclasses.dataclass(frozen=True)
class ConsoleConfig:
    port: int = param(8080, 'TCP port of the page (0: any free port; the node reports the one '
                            'it got)', in_range(0, 65535))
    bind_address: str = param('127.0.0.1', 'address the page is served on; any other than '
                                           'localhost makes every command need the token')
    token: str = param('', 'what a command must carry when the page is served off localhost; '
                           'empty: a new random token, printed at start')
    read_only: bool = param(False, 'the page only shows (evaluation): episode marks, '
                                   'intervention and pause are refused; stop still works')
    cameras: list = param(['wrist_camera', 'front_camera'], 'camera views shown: their '
                                                            'processed images (image_proc)',
                          _camera_names)
    frame_rate_hz: float = param(15.0, 'most frames per second a page is sent, per camera',
                                 positive)
    update_rate_hz: float = param(10.0, 'how often a page is sent the figures', positive)
    output_dir: str = param('', "the run's directory: the episodes it already holds are shown "
                                'at start; empty: only what happens from now on')
    history_episodes: int = param(1000, 'episodes kept for the history plot and table',
                                  positive)
    stop_timeout_s: float = param(2.0, 'how long a stop or release waits for the arm to answer',
                                  positive)

"""FrameSets: the frames the serving node scores (the first in each whole period of the rate)
and the other views' frames they are scored with (the closest in time, once one at least as new
has come)."""
import numpy as np

from hilserl_common.stamps import NS_PER_S
from reward_classifier.frame_sets import FrameSets

T0 = 1_800_000_000 * NS_PER_S
MS = 1_000_000
VIEWS = ['wrist_camera', 'front_camera']


def frame(value):
    return np.full((4, 4, 3), value, dtype=np.uint8)


def camera_instants(start_ms, count):
    """A 30 Hz camera on the grid of the sim clock: instants at whole thirtieths of a second."""
    return [T0 + round((start_ms * MS + k * NS_PER_S / 30)) for k in range(count)]


def test_the_scored_frames_are_the_first_of_each_period_whatever_the_first_one_seen():
    for first_seen in (1, 2):  # the node may join after the frame on the period
        sets = FrameSets(VIEWS[:1], rate_hz=10.0, max_skew_s=0.1)
        scored = []
        for stamp in camera_instants(0, 30)[first_seen:]:
            ready, problem = sets.add('wrist_camera', stamp, frame(0))
            assert problem == ''
            if ready:
                scored.append((ready.stamp_ns - T0) // MS)
        # the first frame seen, then each tenth of a second: never 36 or 68 ms after one
        assert scored[1:] == list(range(100, 1000, 100)), scored


def test_a_frame_is_scored_with_the_other_view_s_frame_of_its_instant():
    sets = FrameSets(VIEWS, rate_hz=10.0, max_skew_s=0.1)
    sets.add('front_camera', T0 - 33 * MS, frame(1))  # the instant before
    ready, _ = sets.add('wrist_camera', T0, frame(2))  # first, as the simulation sends them
    assert ready is None  # the front frame of this instant may still come
    ready, problem = sets.add('front_camera', T0, frame(3))
    assert problem == '' and ready.stamp_ns == T0
    assert [int(f[0, 0, 0]) for f in ready.frames] == [2, 3]


def test_cameras_off_the_grid_pair_the_closest_frames():
    sets = FrameSets(VIEWS, rate_hz=10.0, max_skew_s=0.1)
    sets.add('front_camera', T0 - 20 * MS, frame(1))
    assert sets.add('wrist_camera', T0, frame(2))[0] is None
    ready, _ = sets.add('front_camera', T0 + 13 * MS, frame(3))  # closer than the one before
    assert [int(f[0, 0, 0]) for f in ready.frames] == [2, 3]


def test_no_reward_without_the_other_view_and_the_drop_is_said():
    sets = FrameSets(VIEWS, rate_hz=10.0, max_skew_s=0.1)
    assert sets.add('wrist_camera', T0, frame(0)) == (None, '')
    ready, problem = sets.add('wrist_camera', T0 + 100 * MS, frame(0))
    assert ready is None and 'no frame of front_camera' in problem
    ready, problem = sets.add('front_camera', T0 + 400 * MS, frame(0))  # far too late
    assert ready is None and '300 ms apart' in problem
    ready, problem = sets.add('wrist_camera', T0 + 400 * MS, frame(5))
    assert problem == '' and ready.stamp_ns == T0 + 400 * MS

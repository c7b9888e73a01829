"""The operator's marks as the actor's control thread takes them, and its wait for a frame."""
import threading
import time

import numpy as np
import pytest

from hilserl_actor.inputs import LatestInputs, OperatorMarks

IMAGE = np.zeros((128, 128, 3), np.uint8)


def test_a_mark_is_taken_once():
    marks = OperatorMarks()
    assert marks.take('failure') is None
    assert marks.newest() == 'failure' and marks.newest() == ''


def test_pause_and_resume_say_what_they_want_and_the_toggle_flips():
    marks = OperatorMarks()
    assert marks.take('pause') is True and marks.take('pause') is True
    assert marks.take('resume') is False
    assert marks.take('pause_toggle') is True and marks.paused
    assert marks.take('pause_toggle') is False
    assert marks.newest() == ''  # pausing is not an episode mark


def test_an_unknown_mark_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown operator_event 'sucess'; expected one of "
                                         "success, failure, rerecord, pause"):
        OperatorMarks().take('sucess')


def test_a_step_waits_for_a_frame_taken_after_it_and_no_longer_than_asked():
    inputs = LatestInputs()
    inputs.update(image=IMAGE, image_time_s=0.0)  # taken before the step at 0.02: waited past

    def camera():
        time.sleep(0.05)
        inputs.update(image=IMAGE, image_time_s=0.03)

    threading.Thread(target=camera).start()
    started = time.monotonic()
    assert inputs.wait_for_image(0.02, 1.0, lambda: False)
    assert 0.04 < time.monotonic() - started < 1.0
    assert inputs.snapshot(0.03).image_time_s == 0.03

    started = time.monotonic()  # fresh enough already: no wait
    assert inputs.wait_for_image(0.03, 0.1, lambda: False)
    assert time.monotonic() - started < 0.02

    # No frame that fresh comes: 0.1 s of wall time, whatever the node's clock (on sim time
    # it stands still while the simulation holds for the step's command).
    started = time.monotonic()
    assert not inputs.wait_for_image(0.05, 0.1, lambda: False)
    assert 0.09 < time.monotonic() - started < 1.0
    assert not inputs.wait_for_image(0.05, 10.0, lambda: True)  # stopping: no wait

"""The operator's marks as the actor's control thread takes them."""
import pytest

from hilserl_actor.inputs import OperatorMarks


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

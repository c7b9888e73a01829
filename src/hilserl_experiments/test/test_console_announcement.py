"""The main job prints where each graph's console serves, from what this graph's console wrote
to its log (the log is shared by the job's graphs; the port may be chosen at start)."""
from hilserl_experiments import job_steps
from hilserl_experiments.job_steps import ConsoleAnnouncement


def test_the_url_this_graphs_console_wrote_is_said_once(tmp_path):
    log = tmp_path / 'console.log'
    log.write_text('[INFO] operator console on http://127.0.0.1:8080/\n')   # an earlier graph
    announcement = ConsoleAnnouncement(log)
    assert announcement.poll() == ''
    with log.open('a') as stream:
        stream.write('[INFO] [1.0] [so101.console]: operator console on http://127.0.0.1:41234/\n')
    assert announcement.poll() == 'operator console: http://127.0.0.1:41234/'
    assert announcement.poll() == ''


def test_a_console_that_never_says_where_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(job_steps, 'CONSOLE_WAIT_S', 0.0)
    announcement = ConsoleAnnouncement(tmp_path / 'console.log')
    assert 'did not start' in announcement.poll()
    assert ConsoleAnnouncement(None).poll() == ''

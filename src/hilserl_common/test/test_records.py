"""JSON-lines logs lose nothing but a torn last line on a crash."""
from hilserl_common.records import append_record, read_records


def test_records_survive_a_torn_last_line(tmp_path):
    path = str(tmp_path / 'episodes.jsonl')
    append_record(path, {'episode': 0})
    append_record(path, {'episode': 1})
    with open(path, 'a') as log:
        log.write('{"episode": 2, "ret')
    assert read_records(path) == [{'episode': 0}, {'episode': 1}]
    assert read_records(str(tmp_path / 'missing.jsonl')) == []

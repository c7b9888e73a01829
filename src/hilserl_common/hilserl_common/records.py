"""JSON-lines logs (one record per line): episode statistics, evaluation rounds, learner
statistics. Appends are single writes of whole lines, so a crash loses at most the line being
written and a reader skips a torn last line instead of failing."""
import json
import os
from typing import List


def append_record(path: str, record: dict) -> None:
    with open(path, 'a') as log:
        log.write(json.dumps(record) + '\n')


def read_records(path: str) -> List[dict]:
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as log:
        for line in log:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash
    return records

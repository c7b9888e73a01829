"""Shared-memory files that killed ROS 2 processes leave behind, and their removal.

Fast DDS, ROS 2's default middleware, gives every participant (one per node) shared-memory ports
and segments in /dev/shm. A process killed while it was creating a port leaves a file that never
got its size. The next participant that takes that port (same domain, same participant number)
waits for the file to be finished, forever, inside `Node()`: the node never comes up and says
nothing, and SIGTERM does not stop it (its signal handler waits for Python, which waits in
native code); it happened to a main job's simulated operator after earlier runs were killed.
`fastdds shm clean` does not remove such a file (it has no lock file yet);
`remove_unfinished_ports` does, before every graph starts (hilserl_bringup: the runner and the
launch files), or by hand: `python -m hilserl_common.dds_shm`.

Files of finished ports and segments whose owners died do no harm but fill /dev/shm run after
run: `fastdds shm clean` removes those whose lock no process holds. It is not run here: it would
also take a port another graph is creating at that moment for an unused one.
"""
import time
from pathlib import Path
from typing import List

SHM_DIR = Path('/dev/shm')
PORT_PREFIX = 'fastrtps_port'
# Creating a port takes microseconds: a file this old and still empty is never finished.
UNFINISHED_AGE_S = 30.0


def unfinished_ports(directory: Path = SHM_DIR, min_age_s: float = UNFINISHED_AGE_S
                     ) -> List[Path]:
    """Port files that never got their size, older than `min_age_s`."""
    if not directory.is_dir():
        return []
    now, found = time.time(), []
    for path in directory.glob(f'{PORT_PREFIX}*'):
        if not path.name[len(PORT_PREFIX):].isdigit():
            continue  # a port's lock file (_el, _sl)
        try:
            info = path.stat()
        except FileNotFoundError:
            continue  # removed meanwhile
        if info.st_size == 0 and now - info.st_mtime >= min_age_s:
            found.append(path)
    return sorted(found)


def remove_unfinished_ports(directory: Path = SHM_DIR, min_age_s: float = UNFINISHED_AGE_S
                            ) -> List[str]:
    """Removes unfinished port files and their mutexes; the names of the ports removed."""
    removed = []
    for path in unfinished_ports(directory, min_age_s):
        try:
            for leftover in (path, directory / f'sem.{path.name}_mutex'):
                leftover.unlink(missing_ok=True)
        except PermissionError:
            continue  # another user's: not ours to remove, and no reason not to start
        removed.append(path.name)
    return removed


def main():
    removed = remove_unfinished_ports()
    print(f'removed {len(removed)} unfinished Fast DDS port(s) from {SHM_DIR}'
          + (f': {", ".join(removed)}' if removed else ''))


if __name__ == '__main__':
    main()

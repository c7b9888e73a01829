"""Fast DDS's unfinished shared-memory ports: found by their look, and a real node that hangs on
one comes up once it is removed."""
import os
import subprocess
import sys
import time
from pathlib import Path

from hilserl_common.dds_shm import PORT_PREFIX, SHM_DIR, remove_unfinished_ports, unfinished_ports

OLD = time.time() - 3600


def make(directory: Path, name: str, size: int = 0, mtime: float = OLD) -> Path:
    path = directory / name
    path.write_bytes(b'\0' * size)
    os.utime(path, (mtime, mtime))
    return path


def test_only_old_empty_port_files_are_unfinished(tmp_path):
    dead = make(tmp_path, f'{PORT_PREFIX}17915')
    make(tmp_path, f'sem.{PORT_PREFIX}17915_mutex', 32)
    make(tmp_path, f'{PORT_PREFIX}17913', size=52400)       # finished
    make(tmp_path, f'{PORT_PREFIX}17911', mtime=time.time())  # being created right now
    make(tmp_path, f'{PORT_PREFIX}17917_el')                 # a lock file
    make(tmp_path, 'fastrtps_0816d7b831474c05')              # a segment
    assert unfinished_ports(tmp_path) == [dead]
    assert remove_unfinished_ports(tmp_path) == [dead.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        f'{PORT_PREFIX}17911', f'{PORT_PREFIX}17913', f'{PORT_PREFIX}17917_el',
        'fastrtps_0816d7b831474c05'])


NODE = ('import rclpy; rclpy.init(); rclpy.create_node("shm_probe"); print("up", flush=True); '
        'rclpy.shutdown()')


def node_comes_up(domain: int, within_s: float) -> bool:
    """Whether a node on `domain` is created within `within_s` (killed if not: SIGTERM does not
    stop one that hangs there)."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    process = subprocess.Popen([sys.executable, '-c', NODE], env=env, stdout=subprocess.PIPE,
                               text=True)
    try:
        out, _ = process.communicate(timeout=within_s)
        return 'up' in out
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return False


def test_a_node_that_hangs_on_an_unfinished_port_comes_up_once_it_is_removed():
    # A domain no other test uses (the suite's is 1-100); the first participants' unicast
    # ports there, as a process killed while creating them leaves them: empty, and old.
    domain = 101
    ports = [make(SHM_DIR, f'{PORT_PREFIX}{7400 + 250 * domain + 11 + 2 * n}') for n in range(8)]
    try:
        assert not node_comes_up(domain, within_s=5.0), 'the node came up beside the ports'
        removed = remove_unfinished_ports()
        assert {p.name for p in ports} <= set(removed)
        assert node_comes_up(domain, within_s=60.0)
    finally:
        for path in ports:
            path.unlink(missing_ok=True)

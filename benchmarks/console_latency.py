"""The operator console's cost and speed on this machine: latency from a camera frame's stamp to
its display in the page (target p95 <= 150 ms), the console's CPU use with one page open (target
<= 10% of one core), and the actor loop's jitter without and with an open page (target: no
measurable change).

    source scripts/env.sh && python benchmarks/console_latency.py [--seconds 30] [--rounds 3]
    python benchmarks/console_latency.py --screenshot docs/console.png   # the README's picture

sim, kinematics, simulated operator, actor and console run as real processes (the runner; the
reward from the simulation, real time so stamps are wall-clock times), in a ROS domain of their
own. `--rounds` times: `--seconds` with no page open (the browser on about:blank), then as long
with the page open in headless Chromium (Debian's chromium and chromedriver, as in the
console's tests), alternated so that a change of the machine's own load weighs on both alike.
The page itself measures each frame's latency: the frame's age when the console took it (its
clock minus the image's header stamp: the stamps' clock) plus the wall time from there until
the frame is drawn, so it includes the DDS hop, the console's JPEG encoding, the WebSocket and
the browser's decoding. Jitter: the actor's
actor_status stamps of consecutive steps, |period - 100 ms|. CPU: the console process's CPU time
over the window (psutil). The browser's own CPU is printed too, but it is not the console's.
"""
import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import yaml

from hilserl_experiments.job_steps import CONSOLE_URL
from hilserl_testing.nodes import load_average, private_ros_domain

NOMINAL_PERIOD_S = 0.1


def jitter_ms(stamps) -> np.ndarray:
    """|period - nominal| of consecutive steps of the same episode, from (episode, step, t)."""
    values = []
    for (e0, s0, t0), (e1, s1, t1) in zip(stamps, stamps[1:]):
        if e0 == e1 and s1 == s0 + 1:
            values.append(abs(t1 - t0 - NOMINAL_PERIOD_S) * 1e3)
    return np.asarray(values)


def summary_ms(values) -> str:
    if len(values) == 0:
        return 'no samples'
    return (f'p50 {np.percentile(values, 50):.1f} ms, p95 {np.percentile(values, 95):.1f} ms, '
            f'p99 {np.percentile(values, 99):.1f} ms (n={len(values)})')


class StatusProbe:
    """The actor's actor_status stamps, per step."""

    def __init__(self, namespace: str):
        from hilserl_common import qos
        from hilserl_interfaces.msg import ActorStatus
        from hilserl_testing.nodes import ProbeNode
        self.probe = ProbeNode('console_benchmark', namespace)
        self.lock = threading.Lock()
        self.stamps = []
        self.probe.node.create_subscription(ActorStatus, 'actor_status', self._on_status,
                                            qos.COMMANDS)
        self.probe.spin_in_background()

    def _on_status(self, msg):
        if msg.waiting:
            return  # paused, resetting: no step ran
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self.lock:
            self.stamps.append((msg.episode_id, msg.step, t))

    def take(self):
        with self.lock:
            stamps, self.stamps = self.stamps, []
        return stamps


class Phase:
    """The figures of one kind of phase (no page / a page open), summed over its rounds."""

    def __init__(self):
        self.seconds = self.console_cpu_s = self.chrome_cpu_s = 0.0
        self.jitter_ms, self.latency_ms, self.frames = [], [], {}

    def measure(self, console, chrome, status, driver, seconds: float):
        if driver is not None:
            driver.execute_script('window.consoleMetrics.latencyMs = []; '
                                  'window.consoleMetrics.frames = {};')
        status.take()
        cpu0, chrome0, t0 = cpu_seconds(console), tree_cpu_seconds(chrome), time.monotonic()
        time.sleep(seconds)
        self.seconds += time.monotonic() - t0
        self.console_cpu_s += cpu_seconds(console) - cpu0
        self.chrome_cpu_s += tree_cpu_seconds(chrome) - chrome0
        self.jitter_ms.extend(jitter_ms(status.take()))
        if driver is not None:
            metrics = driver.execute_script('return window.consoleMetrics')
            self.latency_ms.extend(metrics['latencyMs'])
            for camera, count in metrics['frames'].items():
                self.frames[camera] = self.frames.get(camera, 0) + count

    def cpu(self) -> float:
        return self.console_cpu_s / max(self.seconds, 1e-9)

    def chrome_cpu(self) -> float:
        return self.chrome_cpu_s / max(self.seconds, 1e-9)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def tree_cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for p in [process] + process.children(recursive=True):
        try:
            total += cpu_seconds(p)
        except psutil.NoSuchProcess:
            pass
    return total


def console_url(log: Path, graph) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = log.exists() and CONSOLE_URL.search(log.read_text())
        if found:
            return found.group(1)
        assert graph.failed_required() is None, 'a node of the graph died'
        time.sleep(0.5)
    raise AssertionError('the console never said where it serves')


def screenshot(path: Path, episodes: int = 4) -> None:
    """The page during a simulated training run (a small learner of its own, a real but
    untrained reward classifier), once `episodes` episodes are in its table; saved as a small
    256-colour PNG."""
    from PIL import Image

    from hilserl_bringup.runner import Graph
    from hilserl_testing.browser import headless_chromium
    from reward_classifier.model import build_classifier, save_classifier
    directory = Path(tempfile.mkdtemp(prefix='console_screenshot_'))
    save_classifier(build_classifier(), directory / 'reward_classifier', 0.5, {})
    overrides = directory / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump({
        '/**': {'ros__parameters': {'control_time_s': 4.0}},
        '/**/actor': {'ros__parameters': {'observation_max_age_s': 1.0}},
        '/**/learner': {'ros__parameters': {'training_starts': 20, 'batch_size': 32}}}))
    graph = Graph('train', {'output_dir': str(directory), 'config_file': str(overrides),
                            'robot': f's{uuid.uuid4().hex[:8]}', 'wait_for_learner': 'false',
                            'console_port': '0'},
                  only=['sim', 'kinematics', 'operator', 'reward_classifier', 'actor',
                        'learner', 'console'], quiet=True)
    graph.start()
    driver = None
    try:
        url = console_url(directory / 'logs' / 'console.log', graph)
        driver = headless_chromium()
        driver.set_window_size(1280, 1000)
        driver.get(url)
        rows = 'document.querySelectorAll("#episodes tbody tr").length'
        deadline = time.monotonic() + 600
        while driver.execute_script('return ' + rows) < episodes:
            assert time.monotonic() < deadline, 'too few episodes in 10 minutes'
            time.sleep(1.0)
        time.sleep(2.0)  # into the next episode: its trace and step
        raw = directory / 'raw.png'
        driver.save_screenshot(str(raw))
    finally:
        if driver is not None:
            driver.quit()
        graph.stop()
    Image.open(raw).convert('RGB').quantize(256).save(path, optimize=True)
    print(f'{path}: {path.stat().st_size // 1024} KiB')


def main():
    private_ros_domain()  # never the domain of a training run's learner
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=30.0, help='each phase\'s length')
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds of (no page, page open), alternated')
    parser.add_argument('--screenshot', type=Path, help='only save a picture of the page here')
    args = parser.parse_args()
    if args.screenshot:
        screenshot(args.screenshot)
        return

    from hilserl_bringup.runner import Graph
    from hilserl_testing.browser import headless_chromium
    directory = Path(tempfile.mkdtemp(prefix='console_bench_'))
    overrides = directory / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump({
        '/**/actor': {'ros__parameters': {'reward_source': 'sim'}}}))
    robot = f'b{uuid.uuid4().hex[:8]}'
    graph = Graph('train', {'output_dir': str(directory), 'config_file': str(overrides),
                            'robot': robot, 'wait_for_learner': 'false',
                            'console_port': '0'},
                  only=['sim', 'kinematics', 'operator', 'actor', 'console'], quiet=True)
    print(f'load average before: {load_average()}')
    status = StatusProbe('/' + robot)
    graph.start()
    driver = None
    try:
        url = console_url(directory / 'logs' / 'console.log', graph)
        console = psutil.Process(next(n.process.pid for n in graph.nodes
                                      if n.spec.name == 'console'))
        deadline = time.monotonic() + 120
        while len(status.take()) < 5 and time.monotonic() < deadline:
            time.sleep(1.0)  # until the actor steps

        driver = headless_chromium()
        chrome = psutil.Process(driver.service.process.pid)
        figures = {'idle': Phase(), 'page': Phase()}
        for round_number in range(args.rounds):
            # alternate, so that the machine's own load drifting weighs on both alike
            for phase in ('idle', 'page'):
                print(f'round {round_number + 1}/{args.rounds}: '
                      f'{"no page" if phase == "idle" else "one page open"}, '
                      f'{args.seconds:.0f} s ...', flush=True)
                driver.get(url if phase == 'page' else 'about:blank')
                time.sleep(3.0)  # the page connects (or leaves), the first frames arrive
                figures[phase].measure(console, chrome, status, driver if phase == 'page'
                                       else None, args.seconds)
    finally:
        if driver is not None:
            driver.quit()
        status.probe.close()
        graph.stop()

    idle, page = figures['idle'], figures['page']
    print(f'\nload average after: {load_average()}')
    print(f'frame stamp -> display latency: {summary_ms(np.asarray(page.latency_ms))}  '
          f'(target p95 <= 150 ms)')
    print('frames shown per second: ' + ', '.join(
        f'{c} {n / page.seconds:.1f}' for c, n in page.frames.items()))
    print(f'console CPU: {100 * idle.cpu():.1f}% of one core with no page, '
          f'{100 * page.cpu():.1f}% with one page open  (target <= 10%)')
    print(f'headless Chromium CPU (not the console\'s): {100 * page.chrome_cpu():.1f}% of one '
          f'core')
    print(f'actor loop jitter, no page:   {summary_ms(np.asarray(idle.jitter_ms))}')
    print(f'actor loop jitter, page open: {summary_ms(np.asarray(page.jitter_ms))}')


if __name__ == '__main__':
    main()

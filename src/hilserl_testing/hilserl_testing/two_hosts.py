"""Two hosts on one machine, for tests and benchmarks: two Linux network namespaces joined by a
veth pair, the "robot host" and the "GPU host", each with an address of its own, and ROS 2
traffic pinned to that link (UDP only, no shared memory), so nodes started in them talk exactly
as a robot computer and a GPU box on one network would, with the Fast DDS profile a user writes
for them (hilserl_common.dds_profile). No ROS import: this only builds the network and the
commands that run inside it."""
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from hilserl_common.dds_profile import (
    RECEIVE_BUFFER_BYTES,
    fast_dds_profile,
    kernel_receive_buffer_cap,
)

SUBNET = '10.77.0'          # /24; each pair of namespaces has it to itself
PREFIX_LENGTH = 24
ROBOT_ADDRESS = f'{SUBNET}.1'
GPU_ADDRESS = f'{SUBNET}.2'
RMW_IMPLEMENTATION = 'rmw_fastrtps_cpp'   # as scripts/env.sh sets it


class NoNamespaces(RuntimeError):
    """Network namespaces cannot be made here; the message says why."""


class NoLoss(RuntimeError):
    """Packets cannot be dropped at random here (no iptables, or no statistic match)."""


@dataclass(frozen=True)
class Host:
    """One side of the link: a network namespace with one end of the veth pair."""
    namespace: str
    interface: str
    address: str
    peer_address: str
    profile_path: str      # its Fast DDS profile (UDP on its own address only)

    def command(self, argv: Sequence[str], environment: Dict[str, str]) -> List[str]:
        """`argv` run inside this host with `environment` set (on top of the caller's)."""
        return (['ip', 'netns', 'exec', self.namespace, 'env']
                + [f'{name}={value}' for name, value in environment.items()] + list(argv))

    def ros_environment(self, domain_id: int) -> Dict[str, str]:
        """What pins a ROS 2 process in this host to the link: the given domain, Fast DDS with
        this host's profile, and discovery beyond localhost (the profile confines it)."""
        return {'ROS_DOMAIN_ID': str(domain_id), 'RMW_IMPLEMENTATION': RMW_IMPLEMENTATION,
                'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET',
                # the variable Fast DDS 2 (ROS 2 Jazzy) reads, and the one of Fast DDS 3
                'FASTRTPS_DEFAULT_PROFILES_FILE': self.profile_path,
                'FASTDDS_DEFAULT_PROFILES_FILE': self.profile_path}

    def ros_command(self, argv: Sequence[str], domain_id: int) -> List[str]:
        return self.command(argv, self.ros_environment(domain_id))

    def link_bytes(self) -> Tuple[int, int]:
        """(received, sent) bytes of this host's end of the link, the kernel's counters."""
        out = _ip('-n', self.namespace, '-j', '-s', 'link', 'show', 'dev', self.interface)
        stats = json.loads(out)[0]['stats64']
        return stats['rx']['bytes'], stats['tx']['bytes']

    def set_link(self, up: bool) -> None:
        """Take this host's end of the link down (an unplugged cable: nothing crosses either
        way) or bring it back up; the kernel restores the subnet's route when it comes up."""
        _ip('-n', self.namespace, 'link', 'set', 'dev', self.interface, 'up' if up else 'down')

    def drop_at_random(self, probability: float) -> None:
        """Drop that share of the packets this host sends over the link, each at random
        (iptables' statistic match, in this host's own tables; `tc netem`, which could delay
        them too, is missing from some kernels). Raises NoLoss where it cannot be done."""
        result = subprocess.run(
            ['ip', 'netns', 'exec', self.namespace, 'iptables', '-A', 'OUTPUT', '-o',
             self.interface, '-m', 'statistic', '--mode', 'random', '--probability',
             f'{probability:.4f}', '-j', 'DROP'], capture_output=True, text=True)
        if result.returncode != 0:
            raise NoLoss(f'iptables could not drop packets at random: {result.stderr.strip()}')

    def udp_counters(self) -> Dict[str, int]:
        """This host's UDP counters (/proc/net/snmp, one set per namespace): RcvbufErrors
        counts datagrams dropped because a socket's receive buffer was full, e.g. fragments of
        a weights message that DDS then has to send again."""
        text = subprocess.run(['ip', 'netns', 'exec', self.namespace, 'cat', '/proc/net/snmp'],
                              capture_output=True, text=True, check=True).stdout
        names, values = [line.split()[1:] for line in text.splitlines()
                         if line.startswith('Udp:')]
        return dict(zip(names, map(int, values)))


@dataclass(frozen=True)
class TwoHosts:
    robot: Host
    gpu: Host


def why_no_namespaces() -> str:
    """Why network namespaces cannot be made on this machine; '' when they can."""
    if shutil.which('ip') is None:
        return 'the `ip` command (iproute2) is not installed'
    if os.geteuid() != 0:
        return f'network namespaces need root; this process runs as uid {os.geteuid()}'
    # Root may still lack the capability (a container without CAP_NET_ADMIN): try one.
    namespace = f'hilserl-check-{secrets.token_hex(4)}'
    made = subprocess.run(['ip', 'netns', 'add', namespace], capture_output=True, text=True)
    if made.returncode != 0:
        return f'`ip netns add` failed: {made.stderr.strip()}'
    # Entering one also mounts a /sys of its own, which some containers refuse.
    entered = subprocess.run(['ip', 'netns', 'exec', namespace, 'true'], capture_output=True,
                             text=True)
    subprocess.run(['ip', 'netns', 'delete', namespace], capture_output=True)
    if entered.returncode != 0:
        return f'`ip netns exec` failed: {entered.stderr.strip()}'
    return ''


@contextmanager
def two_hosts(receive_buffer_size: Optional[int] = RECEIVE_BUFFER_BYTES,
              max_message_size: Optional[int] = None) -> Iterator[TwoHosts]:
    """Make the robot and GPU hosts (names unique to this call, so parallel or leftover runs do
    not clash) and remove them on the way out, whatever happened; NoNamespaces when they
    cannot be made. Each host's participants get the profile a user writes with
    hilserl_common.dds_profile (`receive_buffer_size`, `max_message_size`: its
    fast_dds_profile's). Only a killed process leaves its pair behind (`ip netns list`:
    hilserl-*; `ip netns delete NAME` removes one)."""
    why = why_no_namespaces()
    if why:
        raise NoNamespaces(why)
    cap = kernel_receive_buffer_cap()
    if receive_buffer_size and cap:  # what the kernel would give: a machine's tests still run
        receive_buffer_size = min(receive_buffer_size, cap)
    tag = secrets.token_hex(4)
    robot_ns, gpu_ns = f'hilserl-robot-{tag}', f'hilserl-gpu-{tag}'
    robot_if, gpu_if = f'vr{tag}', f'vg{tag}'      # interface names: 15 characters at most
    profiles = Path(tempfile.mkdtemp(prefix=f'two_hosts_{tag}_'))
    made = []
    try:
        for namespace in (robot_ns, gpu_ns):
            _ip('netns', 'add', namespace)
            made.append(namespace)
        # Created in the robot host, its peer moved to the GPU host: nothing is left in the
        # machine's own namespace, even if a step below fails (deleting a namespace deletes
        # its end of the pair, and with it the other).
        _ip('-n', robot_ns, 'link', 'add', robot_if, 'type', 'veth', 'peer', 'name', gpu_if)
        _ip('-n', robot_ns, 'link', 'set', gpu_if, 'netns', gpu_ns)
        hosts = []
        for namespace, interface, address, peer in ((robot_ns, robot_if, ROBOT_ADDRESS,
                                                     GPU_ADDRESS),
                                                    (gpu_ns, gpu_if, GPU_ADDRESS, ROBOT_ADDRESS)):
            _ip('-n', namespace, 'addr', 'add', f'{address}/{PREFIX_LENGTH}', 'dev', interface)
            _ip('-n', namespace, 'link', 'set', 'lo', 'up')
            _ip('-n', namespace, 'link', 'set', interface, 'up')
            profile = profiles / f'{namespace}.xml'
            profile.write_text(fast_dds_profile(address, [peer], receive_buffer_size,
                                                max_message_size))
            hosts.append(Host(namespace, interface, address, peer, str(profile)))
        yield TwoHosts(*hosts)
    finally:
        for namespace in made:
            subprocess.run(['ip', 'netns', 'delete', namespace], capture_output=True)
        shutil.rmtree(profiles, ignore_errors=True)


def _ip(*args: str) -> str:
    result = subprocess.run(['ip', *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise NoNamespaces(f'`ip {" ".join(args)}` failed: {result.stderr.strip()}')
    return result.stdout

"""Who may press the console's buttons, and what each button does. No ROS here.

Bound to localhost, only people on the robot's own machine reach the page, and they could press
the operator keys anyway. Bound to another address, anyone on the network can watch, but a
command must carry the token printed at start-up; without it the answer is 403 and nothing
happens.
"""
import dataclasses
import hmac
import ipaddress
import secrets
from typing import Optional

TOKEN_HEADER = 'X-Console-Token'


@dataclasses.dataclass(frozen=True)
class Command:
    """A button: what it sends, and whether a read-only (evaluation) console still offers it."""
    name: str
    label: str
    kind: str  # 'event' (operator_event), 'toggle' (intervention_toggle), 'stop', 'release'
    event: str = ''
    safety: bool = False  # offered even read-only: holding the arm is never refused


COMMANDS = {c.name: c for c in (
    Command('success', 'Success', 'event', 'success'),
    Command('failure', 'Failure', 'event', 'failure'),
    Command('rerecord', 'Re-record', 'event', 'rerecord'),
    Command('intervention', 'Intervention on/off', 'toggle'),
    Command('pause', 'Pause after this episode', 'event', 'pause'),
    Command('resume', 'Resume', 'event', 'resume'),
    Command('stop', 'STOP: hold the arm', 'stop', safety=True),
    Command('release', 'Release the stop', 'release', safety=True),
)}


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and 'localhost' are this machine only; anything else (0.0.0.0 too)
    can be reached from the network."""
    if address == 'localhost':
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: it may resolve off this machine


def new_token() -> str:
    return secrets.token_urlsafe(16)


class Access:
    def __init__(self, bind_address: str, token: str, read_only: bool):
        self.token_needed = not is_loopback(bind_address)
        self.token = token or new_token()
        self.read_only = read_only

    def refusal(self, command_name: str, token: Optional[str]) -> Optional[tuple]:
        """(HTTP status, reason) when the command must not run, else None."""
        command = COMMANDS.get(command_name)
        if command is None:
            return 404, f'no command {command_name!r}; commands: {", ".join(COMMANDS)}'
        if self.token_needed and not hmac.compare_digest((token or '').encode(),
                                                         self.token.encode()):
            return 403, ('this console is served off localhost: a command needs the token '
                         'printed at start-up (the page takes it from ?token=...)')
        if self.read_only and not command.safety:
            return 403, f'read-only console (evaluation): {command_name} is not offered'
        return None

    def offered(self) -> list:
        """The buttons of the page."""
        return [dataclasses.asdict(c) for c in COMMANDS.values()
                if c.safety or not self.read_only]

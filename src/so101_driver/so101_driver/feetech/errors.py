"""What goes wrong on a Feetech bus: the errors a bus operation raises, and the counts it keeps."""
import dataclasses
import termios

from serial import SerialException

# What a vanished or failing serial device raises (termios.error from flushing a hung-up tty).
DEVICE_ERRORS = (SerialException, OSError, termios.error)
# What the SDK raises on bytes it did not expect (it indexes into packets without checking them:
# a status packet without data taken for the answer to its ping's model read, for one).
BAD_BYTES_ERRORS = (IndexError, KeyError, TypeError, ValueError)


class BusError(Exception):
    """A bus operation that did not succeed within its retries."""


class PortGone(BusError):
    """The serial device failed or vanished; the port must be reopened."""


@dataclasses.dataclass
class BusCounters:
    transactions: int = 0
    failures: int = 0       # failed transactions of any kind
    timeouts: int = 0       # "There is no status packet"
    corrupt: int = 0        # "Incorrect status packet" (checksum, truncated, unexpected bytes)
    mismatched: int = 0     # replies that were not the answer to the request (late, foreign)
    implausible: int = 0    # readings the caller refused (a value no servo could have read)
    other_failures: int = 0  # port busy, tx failure, ...
    port_errors: int = 0    # exceptions from the serial device itself
    retries: int = 0        # attempts beyond the first
    servo_alarms: int = 0   # status packets with an error bit (overload, overheat, voltage)
    last_error: str = ''


class NotTheAnswer(BusError):
    """A status packet that came, but not as the answer to this request."""
    counter = 'mismatched'


class ImplausibleReading(NotTheAnswer):
    """The servo's answer, with a value the caller knows it cannot have."""
    counter = 'implausible'

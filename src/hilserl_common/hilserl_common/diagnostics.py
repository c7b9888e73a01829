"""/diagnostics in the one form every node of the workspace reports: one status per message."""
from typing import Iterable, Mapping, Tuple, Union

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

Values = Union[Mapping[str, object], Iterable[Tuple[str, object]]]


def status_array(stamp, level: Union[int, bytes], name: str, message: str, hardware_id: str,
                 values: Values) -> DiagnosticArray:
    """A DiagnosticArray holding one status; `level` is DiagnosticStatus.OK/WARN/ERROR/STALE or
    its integer value, `values` key/value pairs (converted to strings)."""
    pairs = values.items() if isinstance(values, Mapping) else values
    status = DiagnosticStatus(level=level if isinstance(level, bytes) else bytes([level]),
                              name=name, message=message, hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=str(v)) for k, v in pairs])
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array

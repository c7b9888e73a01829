"""Message stamps (builtin_interfaces/Time, or anything with sec and nanosec) and clock
readings in nanoseconds, as seconds."""

NS_PER_S = 1_000_000_000


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def nanoseconds(stamp) -> int:
    return stamp.sec * NS_PER_S + stamp.nanosec

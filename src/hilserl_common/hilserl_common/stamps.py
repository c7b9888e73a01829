"""Message stamps (builtin_interfaces/Time, or anything with sec and nanosec) as seconds."""


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9

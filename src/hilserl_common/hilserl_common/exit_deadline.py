"""A deadline on a process's way out that holds even when Python cannot run.

The ROS middleware's teardown (rclpy's destroy_node, which deletes the DDS participant with the
last node) now and then never returns: seen in the suite's graphs about once in a few hundred
node stops, on more than one machine, inside rclpy's own destroy_node after the node's own
shutdown steps were done. rclpy calls into the middleware holding Python's lock, so no Python
thread, timer or signal handler can act while it hangs. A POSIX timer that runs C's `_exit` on a
thread of its own can: the process ends with the exit code it was going to have anyway.
"""
import ctypes
import faulthandler
import sys

_SIGEV_THREAD = 2        # <signal.h>: at expiry, call a function on a new thread
_CLOCK_MONOTONIC = 1     # <time.h>


class _SigEvent(ctypes.Structure):
    """glibc's `struct sigevent` (64 bytes) for SIGEV_THREAD: the value the function is called
    with, the signal (unused), how to notify, the function and its thread attributes."""
    _fields_ = [('value', ctypes.c_void_p), ('signo', ctypes.c_int), ('notify', ctypes.c_int),
                ('function', ctypes.c_void_p), ('attributes', ctypes.c_void_p),
                ('_pad', ctypes.c_int * 8)]


class _TimeSpec(ctypes.Structure):
    _fields_ = [('sec', ctypes.c_long), ('nsec', ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [('interval', _TimeSpec), ('value', _TimeSpec)]


def exit_after(seconds: float, code: int) -> None:
    """End this process with `code` `seconds` from now, unless it has ended by then.

    Half a second before, Python's stacks are written to stderr (faulthandler: a "Timeout"
    line, then every thread's stack), so a log shows where the way out was stuck. Meant for
    a process that is already on its way out: it cannot be called off.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    faulthandler.dump_traceback_later(max(seconds - 0.5, 0.1))
    libc = ctypes.CDLL(None, use_errno=True)
    event = _SigEvent(value=code, notify=_SIGEV_THREAD,
                      function=ctypes.cast(libc._exit, ctypes.c_void_p).value)
    timer = ctypes.c_void_p()
    if libc.timer_create(_CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer)) != 0:
        raise OSError(ctypes.get_errno(), 'timer_create failed')
    whole = int(seconds)
    when = _ITimerSpec(value=_TimeSpec(whole, int((seconds - whole) * 1e9)))
    if libc.timer_settime(timer, 0, ctypes.byref(when), None) != 0:
        raise OSError(ctypes.get_errno(), 'timer_settime failed')

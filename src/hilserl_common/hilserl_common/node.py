"""Start-up and shutdown shared by every node: one call in each executable's main(), one base
class for the nodes it runs."""
import faulthandler
import signal
import sys

import rclpy
import rclpy.node
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from hilserl_common.config import ConfigError
from hilserl_common.exit_deadline import exit_after

# How long rclpy and the middleware get to tear a node down once the node's own shutdown steps
# are done. It takes well under a second; past this, the process ends without them (its peers
# then drop it from the graph when its discovery lease runs out).
TEARDOWN_DEADLINE_S = 5.0


class Node(rclpy.node.Node):
    """rclpy's Node with a way out that cannot hang.

    A subclass's destroy_node() does its own shutdown steps (torque off, a checkpoint) and calls
    this one last. Under run(), from here on only rclpy's and the middleware's teardown remain,
    and they get TEARDOWN_DEADLINE_S: a teardown that hangs (exit_deadline says why it can)
    ends the process with `exit_code`, the code it was going to exit with. Nodes made in a test
    process are torn down without a deadline.
    """
    exit_code = 0            # a node that fails on its own sets it (see run)
    deadline_on_exit = False  # run() sets it: the process ends after this node

    def destroy_node(self):
        if self.deadline_on_exit:
            exit_after(TEARDOWN_DEADLINE_S, self.exit_code)
        super().destroy_node()


def run(node_class, args=None, executor_factory=None) -> int:
    """Construct and spin `node_class` until Ctrl-C or SIGTERM; always destroy it.

    A ConfigError stops the node with the user-facing message and exit code 2 (no traceback).
    The node's destroy_node() is the place for safety on exit (e.g. torque off): it runs on
    Ctrl-C, SIGTERM and exceptions alike. A node that fails on its own (a worker thread's
    error) sets `node.exit_code` before shutting the context down (or in destroy_node, when a
    safety step there fails), and that is the exit code.
    """
    # A node that hangs can be asked where: `kill -USR1 <pid>` writes every thread's Python
    # stack to its output (its log under a graph). The tests do it before killing a node that
    # outlived its stop's grace period, so the failure shows where it was stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    ctrl_c = _CtrlC()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, ctrl_c)
    rclpy.init(args=args)
    node = executor = None
    code = 0
    try:
        node = node_class()
        ctrl_c.spinning = True
        # after init: an executor needs the context
        executor = SingleThreadedExecutor() if executor_factory is None else executor_factory()
        executor.add_node(node)
        _spin_until_shutdown(executor)
    except ConfigError as error:
        print(f'[{node_class.__name__}] configuration error: {error}', file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            if node is not None:  # a teardown cut short exits as Python would: 1
                node.exit_code = getattr(node, 'exit_code', 0) or 1
            raise
        # Ctrl-C or SIGTERM arrived while the node was being built: rclpy's calls then fail
        # with errors of their own, which say nothing to the user.
    finally:
        # Once the context is down, rclpy no longer handles Ctrl-C: a signal arriving now (the
        # runner stopping a graph whose node is already exiting) would kill the process (exit
        # -2) in the middle of destroy_node, which is where the safety steps run.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        if executor is not None:
            # Drops the executor's half-read wait: a spin left between two ready callbacks
            # holds the entities' handles, and destroy_node then waits on them for ever (seen:
            # a kinematics node killed 13 s after Ctrl-C, inside destroy_node).
            executor.shutdown()
        if node is not None:
            node.deadline_on_exit = True
            node.destroy_node()
            # After destroy_node: a safety step that failed there (torque off that could not
            # be confirmed) must make the exit code non-zero too.
            code = code or getattr(node, 'exit_code', 0)
        rclpy.try_shutdown()
    return code


# How often a spinning node looks whether its context was shut down. rclpy's signal handler
# wakes the executor and shuts the context down from another thread; when the wake comes first,
# the executor finds the context still up and waits again, and nothing wakes it after the
# shutdown: a node on simulated time whose clock has stopped (the sim exits first) then waits
# forever. Seen about once in 15 stops of the sim graph, for 10 s each until SIGTERM.
SHUTDOWN_POLL_S = 0.25


def _spin_until_shutdown(executor):
    while executor.context.ok():
        executor.spin_once(timeout_sec=SHUTDOWN_POLL_S)


class _CtrlC:
    """Python's side of Ctrl-C (rclpy's own handler, installed by rclpy.init, shuts the context
    down in any case). While the node is being built, in this package's own code (models
    loaded, demos converted), it raises KeyboardInterrupt, so a long start can be cut short.
    Once the node spins it does nothing: spin returns when rclpy sees the context down. A
    KeyboardInterrupt raised there could land anywhere in the executor, e.g. between a lock's
    acquire and the block that releases it, and the way out would then wait on that lock until
    the node is killed. It raises once only: Ctrl-C in a terminal reaches a node twice when
    run_graph runs it (from the terminal, and forwarded by the runner)."""

    def __init__(self):
        self.spinning = False
        self.raised = False

    def __call__(self, signum, frame):
        if self.spinning or self.raised:
            return
        self.raised = True
        raise KeyboardInterrupt


def main_for(node_class, executor_factory=None):
    """A console-script entry point for `node_class`."""
    def main(args=None):
        sys.exit(run(node_class, args=args, executor_factory=executor_factory))
    return main

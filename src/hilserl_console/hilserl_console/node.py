"""The console node: a thin ROS shell around ConsoleState and ConsoleServer.

It listens to what the operator watches (processed camera images, actor_status, reward,
intervention, episode_stats, /learner_stats, /diagnostics) and carries the page's buttons out
through the operator's own paths: operator_event (success, failure, rerecord, pause, resume) as
the leader's keys send it, intervention_toggle as the toggle key flips it, and the arm's `stop`
and `torque_enable` services (follower or simulation), which need neither learner nor
classifier.
"""
import socket
import threading

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Empty, String
from std_srvs.srv import SetBool, Trigger

from hilserl_common import qos
from hilserl_common.config import ConfigError
from hilserl_common.images import from_msg
from hilserl_common.node import Node, main_for
from hilserl_common.params import load_config
from hilserl_common.stamps import seconds
from hilserl_console import messages
from hilserl_console.access import Access, Command
from hilserl_console.config import ConsoleConfig
from hilserl_console.frames import encode_jpeg
from hilserl_console.server import ConsoleServer, PortTaken
from hilserl_console.state import ConsoleState, run_history
from hilserl_interfaces.msg import ActorStatus, EpisodeStats, LearnerStats, RewardPrediction

PAGE_CHECK_PERIOD_S = 0.2
# The newest frame only: the frames between two the page is sent stay in the middleware, which
# drops each for the next (best effort, as the cameras publish).
NEWEST_FRAME = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                          history=HistoryPolicy.KEEP_LAST)


class ConsoleNode(Node):
    def __init__(self):
        super().__init__('console')
        self.config = c = load_config(self, ConsoleConfig)
        self.state = ConsoleState(c.history_episodes)
        for record in run_history(c.output_dir):  # the run's earlier episodes
            self.state.on_episode(record)
        self.access = Access(c.bind_address, c.token, c.read_only)
        self.operator_events = self.create_publisher(String, 'operator_event', qos.COMMANDS)
        self.toggles = self.create_publisher(Empty, 'intervention_toggle', qos.COMMANDS)
        self.stop_client = self.create_client(Trigger, 'stop')
        self.torque_client = self.create_client(SetBool, 'torque_enable')
        self._subscribe()
        page_info = {'title': f'SO-101 HIL-SERL console {self.get_namespace()}',
                     'cameras': list(c.cameras), 'namespace': self.get_namespace(),
                     'moving_average_episodes': self.state.window}
        self.server = ConsoleServer(self.state, self.access, self.run_command, page_info,
                                    c.update_rate_hz, log=self.get_logger().warning)
        try:
            port = self.server.start(c.bind_address, c.port)
        except PortTaken as error:
            raise ConfigError(str(error)) from None
        self.url = self._announce(port)
        # On the steady clock: pages open, and are sent frames, in wall time, whatever the
        # simulation's speed.
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(PAGE_CHECK_PERIOD_S, self._watch_pages, clock=self.steady)

    def _watch_pages(self):
        """Camera frames while a page is open only, at the page's frame rate: 30 Hz per camera
        is most of what the console would otherwise spend its CPU on."""
        if self.server.pages_open and self.frame_reader is None:
            self.frame_reader = FrameReader(self.get_namespace(), self.config.cameras,
                                            self._on_image)
            self.frame_timer = self.create_timer(1.0 / self.config.frame_rate_hz,
                                                 self.frame_reader.take, clock=self.steady)
        elif not self.server.pages_open and self.frame_reader is not None:
            self._close_frames()

    def _close_frames(self):
        self.destroy_timer(self.frame_timer)
        self.frame_reader.close()
        self.frame_reader = None

    def _subscribe(self):
        self.frame_reader = None  # only while a page is open (_watch_pages)
        state = self.state
        for msg_type, topic, handler in (
                (ActorStatus, 'actor_status', lambda m: state.on_status(messages.actor_status(m))),
                (RewardPrediction, 'reward',
                 lambda m: state.on_reward(messages.reward_prediction(m))),
                (Bool, 'intervention', lambda m: state.on_intervention(bool(m.data))),
                (EpisodeStats, 'episode_stats',
                 lambda m: state.on_episode(messages.episode_stats(m))),
                (LearnerStats, '/learner_stats',
                 lambda m: state.on_learner(messages.learner_stats(m))),
                (DiagnosticArray, '/diagnostics',
                 lambda m: state.on_diagnostics(messages.diagnostics(m)))):
            self.create_subscription(msg_type, topic, handler, qos.COMMANDS)


    def _announce(self, port: int) -> str:
        host = self.config.bind_address
        if host in ('0.0.0.0', '::', ''):
            host = socket.gethostname()  # every address of this machine: name one
        url = f'http://{host}:{port}/'
        if self.access.token_needed:
            self.get_logger().warning(
                f'operator console on {url}?token={self.access.token} (served off localhost: '
                f'anyone on the network can watch; commands need the token '
                f'{self.access.token})')
        else:
            self.get_logger().info(f'operator console on {url}')
        return url

    # --- inputs ------------------------------------------------------------------------------

    def _on_image(self, camera: str, msg: Image):
        # its age on the clock its stamp was taken on: the node's (sim time with use_sim_time)
        age_ms = (self.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds / 1e6
        try:
            jpeg = encode_jpeg(from_msg(msg), msg.encoding)
        except ValueError as error:
            self.get_logger().warning(f'{camera} frame not shown: {error}',
                                      throttle_duration_sec=5.0)
            return
        self.state.on_frame(camera, seconds(msg.header.stamp), jpeg, age_ms)
        self.server.frame_arrived()

    # --- commands (from the server's worker threads) ------------------------------------------

    def run_command(self, command: Command):
        """(done, what happened) for one of access.COMMANDS."""
        if command.kind == 'event':
            self.operator_events.publish(String(data=command.event))
            done, message = True, f'operator_event {command.event} sent'
        elif command.kind == 'toggle':
            self.toggles.publish(Empty())
            done, message = True, 'intervention toggled'
        elif command.kind == 'stop':
            done, message = self._call(self.stop_client, Trigger.Request())
        else:
            done, message = self._call(self.torque_client, SetBool.Request(data=True))
        self.get_logger().info(f'console: {command.name}: {message}')
        return done, message

    def _call(self, client, request):
        timeout = self.config.stop_timeout_s
        if not client.wait_for_service(timeout_sec=timeout):
            return False, f'service {client.srv_name} is not offered (is the arm\'s node up?)'
        future = client.call_async(request)
        answered = threading.Event()
        future.add_done_callback(lambda _: answered.set())
        if not answered.wait(timeout) or future.result() is None:
            return False, f'service {client.srv_name} did not answer within {timeout:g} s'
        result = future.result()
        return bool(result.success), result.message

    def destroy_node(self):
        self.server.stop()
        if self.frame_reader is not None:
            self._close_frames()
        super().destroy_node()


class FrameReader:
    """The cameras' newest processed images, taken at the page's frame rate (`take`): their
    subscriptions live on a node of their own that only `take` spins, so the frames in between
    (the cameras publish at 30 Hz) never reach Python, and are neither copied nor decoded."""

    def __init__(self, namespace: str, cameras, on_image):
        # Not the process's arguments: their __node remapping would rename this node too.
        self.node = Node('console_frames', namespace=namespace, use_global_arguments=False)
        for camera in cameras:
            self.node.create_subscription(Image, f'{camera}/image_proc',
                                          lambda msg, camera=camera: on_image(camera, msg),
                                          NEWEST_FRAME)
        self.cameras = len(cameras)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)

    def take(self):
        for _ in range(self.cameras):  # at most the newest frame of each camera
            self.executor.spin_once(timeout_sec=0.0)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


main = main_for(ConsoleNode)

"""The actor's ROS messages from and to its plain-Python types (the node's only conversions):
transitions out, episode statistics out, the simulation's grasp state in."""
import numpy as np

from hilserl_actor.session import SimState
from hilserl_common.images import to_msg
from hilserl_common.stamps import seconds
from hilserl_common.transition import Transition
from hilserl_interfaces.msg import ActorStatus, EpisodeStats, GraspState
from hilserl_interfaces.msg import Transition as TransitionMsg


def transition_msg(t: Transition, actor_id: str, episode_id: int, stamp) -> TransitionMsg:
    msg = TransitionMsg(actor_id=actor_id, episode_id=episode_id, step_id=t.step_id,
                        gripper_action=int(t.gripper_action), reward=float(t.reward),
                        terminated=bool(t.terminated), truncated=bool(t.truncated),
                        is_intervention=bool(t.is_intervention),
                        policy_version=int(t.policy_version))
    msg.header.stamp = stamp
    msg.state = t.state.astype(np.float32).tolist()
    msg.next_state = t.next_state.astype(np.float32).tolist()
    msg.image = to_msg(t.image)
    msg.next_image = to_msg(t.next_image)
    msg.action = np.asarray(t.action, np.float32).tolist()
    return msg


def episode_stats_msg(record: dict, actor_id: str, stamp) -> EpisodeStats:
    """An episode record (ActorSession) as the episode_stats message."""
    msg = EpisodeStats(actor_id=actor_id, episode_id=record['episode'], mode=record['mode'],
                       episode_return=record['return'], length=record['length'],
                       success=record['success'],
                       intervention_steps=record['intervention_steps'],
                       intervention_rate=record['intervention_rate'],
                       policy_hz=record['policy_hz'],
                       loop_jitter_p99_ms=record['loop_jitter_p99_ms'],
                       policy_version=record['policy_version'],
                       duration_s=record['duration_s'])
    msg.header.stamp = stamp
    return msg


def actor_status_msg(status: dict, actor_id: str, stamp) -> ActorStatus:
    """A step's status (ActorSession._status) as the actor_status message."""
    msg = ActorStatus(actor_id=actor_id, episode_id=status['episode'], mode=status['mode'],
                      step=status['step'], max_steps=status['max_steps'],
                      time_left_s=status['time_left_s'], intervention=status['intervention'],
                      reward=status['reward'], gate=status['gate'], waiting=status['waiting'],
                      paused=status['paused'], policy_version=status['policy_version'])
    msg.header.stamp = stamp
    return msg


def sim_state_of(msg: GraspState) -> SimState:
    position = msg.cube_pose.position
    return SimState(bool(msg.success), bool(msg.gripper_contact), bool(msg.grasped),
                    np.array([position.x, position.y, position.z]), float(msg.cube_height),
                    seconds(msg.header.stamp))

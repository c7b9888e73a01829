"""The graph's messages as the plain dicts ConsoleState keeps. Fields are read by name only,
so this module needs no ROS import and its tests use any object with those fields."""
from typing import List

from hilserl_common.stamps import seconds
from hilserl_console.state import LEVELS

LEARNER_FIELDS = ('optimization_step', 'env_steps', 'online_buffer_size', 'demo_buffer_size',
                  'critic_loss', 'actor_loss', 'temperature', 'gripper_critic_loss', 'q_mean',
                  'updates_per_s', 'effective_utd', 'weights_version', 'utd_ratio',
                  'updates_owed', 'transitions_dropped')
STATUS_FIELDS = ('actor_id', 'mode', 'step', 'max_steps', 'time_left_s', 'intervention',
                 'reward', 'gate', 'waiting', 'paused', 'policy_version')


def _fields(msg, names) -> dict:
    values = {name: getattr(msg, name) for name in names}
    # JSON has no NaN: a loss not computed yet is sent as null
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in values.items()}


def actor_status(msg) -> dict:
    return {**_fields(msg, STATUS_FIELDS), 'episode': msg.episode_id,
            'stamp': seconds(msg.header.stamp)}


def reward_prediction(msg) -> dict:
    return {'probability': float(msg.probability), 'threshold': float(msg.threshold),
            'success': bool(msg.success), 'stamp': seconds(msg.header.stamp)}


def episode_stats(msg) -> dict:
    """The fields of an episode record (hilserl_actor.session) that the message carries."""
    return {'episode': msg.episode_id, 'mode': msg.mode, 'success': bool(msg.success),
            'return': float(msg.episode_return), 'length': msg.length,
            'intervention_steps': msg.intervention_steps,
            'intervention_rate': float(msg.intervention_rate),
            'policy_version': msg.policy_version, 'duration_s': float(msg.duration_s)}


def learner_stats(msg) -> dict:
    return {**_fields(msg, LEARNER_FIELDS), 'stamp': seconds(msg.header.stamp),
            'env_steps_by_actor': {actor: int(steps) for actor, steps
                                   in zip(msg.actor_ids, msg.actor_env_steps)}}


def diagnostics(msg) -> List[dict]:
    def level(value) -> str:
        value = value[0] if isinstance(value, (bytes, bytearray)) else int(value)
        return LEVELS.get(value, f'level {value}')

    return [{'name': s.name, 'level': level(s.level), 'message': s.message,
             'hardware_id': s.hardware_id} for s in msg.status]

"""The SAC / HIL-SERL losses and bootstrap targets as plain functions of tensors, so each can be
checked against a hand computation.

Shapes: B batch, E critic ensemble members, G = 3 gripper commands.
"""
import torch


def critic_target(reward, terminated, next_q, next_log_prob, discount: float,
                  temperature, backup_entropy: bool):
    """y = r + gamma * (1 - terminated) * (min_E Q'(s', a') [- alpha log pi(a'|s')]).

    Only termination cuts the bootstrap; a truncated (timed-out) step still bootstraps from s'.
    next_q: (E, B), the target critics at (s', a' ~ pi(s')); reward, terminated: (B,).
    """
    next_value = next_q.min(dim=0).values
    if backup_entropy:
        next_value = next_value - temperature * next_log_prob
    return reward + discount * (1.0 - terminated.float()) * next_value


def critic_loss(q, target):
    """Mean squared TD error over the batch and the ensemble. q: (E, B), target: (B,)."""
    return (q - target.unsqueeze(0)).pow(2).mean()


def actor_loss(log_prob, q, temperature):
    """E[alpha log pi(a|s) - mean_E Q(s, a)] for a ~ pi(s) (HIL-SERL averages the ensemble)."""
    return (temperature * log_prob - q.mean(dim=0)).mean()


def behaviour_cloning_loss(mean, log_std, action, is_human, clip: float = 0.995):
    """Negative log-likelihood of the stored action under the actor's Gaussian (before the tanh,
    whose Jacobian does not depend on the actor), per action dimension, over the rows a human
    chose (demos and interventions); 0 when there are none. It pulls the mean to the human's
    action and the spread down to how consistent the human is: a squared error on the mean alone
    left the spread to drift (pre-tanh standard deviations of 0.5-0.9 on demo states), and the
    training episodes were then mostly noise. mean, log_std, action: (B, A); is_human: (B,)."""
    target = torch.atanh(action.clamp(-clip, clip))
    per_row = (0.5 * ((target - mean) / log_std.exp()).pow(2) + log_std).mean(dim=-1)
    weights = is_human.float()
    return (per_row * weights).sum() / weights.sum().clamp(min=1.0)


def temperature_loss(log_alpha, log_prob, target_entropy: float):
    """-alpha * (log pi + target_entropy): alpha grows while the policy's entropy (-log pi) is
    below the target and shrinks while it is above."""
    return -(log_alpha.exp() * (log_prob.detach() + target_entropy)).mean()


def gripper_target(reward, penalty, terminated, next_q_online, next_q_target, discount: float):
    """Double DQN: the online gripper critic picks argmax_g Q(s', g), the target critic values
    it. y = r - penalty + gamma * (1 - terminated) * Q_target(s', argmax). next_q_*: (B, G)."""
    best = next_q_online.argmax(dim=-1, keepdim=True)
    next_value = next_q_target.gather(-1, best).squeeze(-1)
    return reward - penalty + discount * (1.0 - terminated.float()) * next_value


def gripper_margin_loss(q, human_action, is_human, margin: float):
    """DQfD's large-margin term on the rows a human chose: max_g [Q(s, g) + margin * (g != the
    human's)] - Q(s, human's), so the greedy gripper command prefers the human's by `margin`
    (0 once it does); 0 without human rows. q: (B, G), human_action: (B,) long, is_human: (B,)."""
    human = human_action.long().unsqueeze(-1)
    margins = torch.full_like(q, margin).scatter(-1, human, 0.0)
    per_row = (q + margins).max(dim=-1).values - q.gather(-1, human).squeeze(-1)
    weights = is_human.float()
    return (per_row * weights).sum() / weights.sum().clamp(min=1.0)


def gripper_loss(q, gripper_action, target):
    """Squared TD error of the taken gripper command. q: (B, G), gripper_action: (B,) long."""
    taken = q.gather(-1, gripper_action.long().unsqueeze(-1)).squeeze(-1)
    return (taken - target).pow(2).mean()

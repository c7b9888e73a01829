"""Which replies of one sync read can be trusted to be the asked servo's answer to this request.

The servos of a sync read answer one after another, in the order of the request. A reply that
breaks that order, or a second and different reply from one servo, means that a reply of another
request or of another servo (a late one, or one whose id was damaged into a valid one) is among
them, and nothing says which: the whole read is dropped. A damaged id can also take the place of
a servo whose own reply was lost, with the order intact; the servo it really came from is then
missing from its neighbouring place, so a reply counts only when the servos next to it in the
request answered too. Replies of the wrong length or from servos not asked are never taken
(`FeetechBus` leaves them out before this).
"""
from typing import Dict, Iterable, Sequence, Tuple


def trusted_replies(requested: Sequence[int], received: Iterable[Tuple[int, bytes]]
                    ) -> Tuple[Dict[int, bytes], bool]:
    """The answers (servo id -> data) that are certainly each servo's own, and whether the
    replies were out of order (a sign of late or foreign replies, counted by the caller)."""
    turn = {servo_id: k for k, servo_id in enumerate(requested)}
    answers: Dict[int, bytes] = {}
    last_turn = -1
    for servo_id, data in received:
        if servo_id in answers:
            if answers[servo_id] == data:
                continue  # the same packet twice: whichever is taken, it is this servo's
            return {}, True
        if turn[servo_id] <= last_turn:
            return {}, True
        answers[servo_id] = data
        last_turn = turn[servo_id]
    trusted = {i: d for i, d in answers.items()
               if _neighbours_answered(requested, turn[i], answers)}
    return trusted, False


def _neighbours_answered(requested: Sequence[int], k: int, answers: Dict[int, bytes]) -> bool:
    return all(requested[n] in answers for n in (k - 1, k + 1) if 0 <= n < len(requested))

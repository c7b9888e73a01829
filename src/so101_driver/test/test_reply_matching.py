"""Which replies are taken for a servo's reading, and which readings are thrown away (pure logic:
sync-read matching, the plausibility filter, servo error bits in words)."""
import pytest

from so101_driver.arm.plausibility import JITTER_TICKS, RANGE_MARGIN_TICKS, PlausibilityFilter
from so101_driver.feetech import alarms, reads
from so101_driver.feetech import registers as reg
from so101_driver.feetech.matching import trusted_replies

ALL = [1, 2, 3, 4, 5, 6]


def replies(*ids):
    return [(i, bytes([i, 0, 0, 0])) for i in ids]


def test_complete_replies_in_order_are_all_taken():
    answers, out_of_order = trusted_replies(ALL, replies(1, 2, 3, 4, 5, 6))
    assert set(answers) == set(ALL) and not out_of_order


def test_a_lost_reply_also_costs_its_neighbours():
    # Servo 3's reply might have been servo 4's under a damaged id (4's own was lost): neither
    # 2 nor 4 is trusted next to a gap.
    answers, out_of_order = trusted_replies(ALL, replies(1, 2, 4, 5, 6))
    assert set(answers) == {1, 5, 6} and not out_of_order
    assert set(trusted_replies(ALL, replies(2, 3, 4, 5, 6))[0]) == {3, 4, 5, 6}
    assert trusted_replies([3], replies(3))[0] == {3: bytes([3, 0, 0, 0])}


@pytest.mark.parametrize('received', [
    [(1, b'a'), (3, b'b'), (2, b'c'), (4, b'd')],  # two ids swapped: out of turn
    [(1, b'a'), (2, b'b'), (2, b'c'), (3, b'd')],  # two different answers from servo 2
    [(1, b'a'), (2, b'b'), (3, b'c'), (1, b'e')],  # a late one of an earlier read
])
def test_replies_out_of_turn_or_contradicting_drop_the_whole_read(received):
    answers, out_of_order = trusted_replies([1, 2, 3, 4], received)
    assert answers == {} and out_of_order


def test_the_same_packet_twice_is_one_answer():
    received = [(1, b'a'), (2, b'b'), (2, b'b'), (3, b'c')]
    answers, out_of_order = trusted_replies([1, 2, 3], received)
    assert answers == {1: b'a', 2: b'b', 3: b'c'} and not out_of_order


def test_each_kind_of_read_has_a_length_of_its_own():
    lengths = [span.length for span in reads.SPANS]
    assert len(set(lengths)) == len(lengths) and not {0, 1, 2} & set(lengths)
    with pytest.raises(ValueError, match='Present_Load is not inside the position span'):
        reads.POSITION.value(reg.PRESENT_LOAD, bytes(4))


def test_readings_outside_the_range_or_faster_than_a_servo_are_implausible():
    check = PlausibilityFilter([1000, 2000], [3000, 3500], max_speed_ticks_s=6000)
    assert check.plausible(0, 1000 - RANGE_MARGIN_TICKS, now=0.0)
    assert not check.plausible(0, 1000 - RANGE_MARGIN_TICKS - 1, now=0.0)
    assert not check.plausible(1, 0, now=0.0)  # load bytes read as a position, say
    check.accept([2000, 2500], now=0.0)
    # In one 30 Hz cycle a servo moves at most 200 ticks at 6000 ticks/s.
    assert check.plausible(0, 2000 + 200 + JITTER_TICKS, now=1 / 30)
    assert not check.plausible(0, 2000 + 200 + JITTER_TICKS + 1, now=1 / 30)
    assert not check.plausible(1, 2480 - 250, now=1 / 30)
    # After a longer gap (failed cycles) the servo may be farther away.
    assert check.plausible(1, 2500 + 900, now=0.2)
    assert check.out_of_range([999, 3700]) == [(1, 3700)]
    with pytest.raises(ValueError, match='max_speed_ticks_s'):
        PlausibilityFilter([0], [1], max_speed_ticks_s=0)


def test_error_bits_in_words_and_how_serious():
    assert alarms.describe(0) == ('ok', False)
    assert alarms.describe(alarms.OVERLOAD) == ('overload', True)
    assert alarms.describe(alarms.VOLTAGE) == ('input voltage out of range', False)
    words, serious = alarms.describe(alarms.OVERHEAT | alarms.VOLTAGE | 0x40)
    assert words == 'overheat, input voltage out of range, unknown error bits 0x40' and serious
    record = alarms.ServoAlarms()
    for bits in (0, alarms.OVERLOAD, alarms.OVERLOAD, 0):
        record.record(6, bits)
    assert record.bits[6] == 0 and record.packets[6] == 2 and record.total() == 2
    assert alarms.describe(0xFF)[0].endswith('unknown error bits 0xd0')

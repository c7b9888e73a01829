"""The sim node's publishing schedules: instants on whole periods of sim time from the sim's
start, so a 30 Hz camera meets a 10 Hz controller's ticks."""
from hilserl_common.stamps import NS_PER_S
from so101_sim.streams import Schedule

ORIGIN_NS = 1_800_000_000 * NS_PER_S  # a whole second, as the sim node starts its clock
CHUNK_NS = 4_000_000  # the physics advances 4 ms between publishing checks


def instants(rate_hz: float, seconds: float, origin_ns: int = ORIGIN_NS, chunk_ns=CHUNK_NS):
    schedule = Schedule(rate_hz, origin_ns)
    return [now - origin_ns for now in range(origin_ns, origin_ns + int(seconds * NS_PER_S),
                                              chunk_ns) if schedule.due(now)]


def test_every_third_frame_of_a_30_hz_camera_falls_on_a_tenth_of_a_second():
    published = instants(30.0, 1.0)
    assert len(published) == 30  # one per instant: the first is not published twice
    assert published[::3] == [k * 100_000_000 for k in range(10)]
    # the others at the first physics chunk after their instant, never before it
    assert published[1:3] == [36_000_000, 68_000_000]


def test_after_a_stall_only_the_last_missed_instant_is_published():
    schedule = Schedule(10.0, ORIGIN_NS)
    assert schedule.due(ORIGIN_NS)
    assert schedule.due(ORIGIN_NS + 350_000_000)  # three instants missed: one publication
    assert not schedule.due(ORIGIN_NS + 380_000_000)
    assert schedule.due(ORIGIN_NS + 400_000_000)  # back on the grid


def test_the_clock_at_100_hz_lands_on_each_tenth_of_a_second():
    assert set(range(0, 1_000_000_000, 100_000_000)) <= set(instants(100.0, 1.0))

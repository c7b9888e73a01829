"""Replay buffers, RLPD mixing, the transition journal and transition checks."""
import numpy as np
import pytest

from hilserl_learner.ingest.validation import (
    EpisodeBook,
    GripperTogglePenalty,
    InvalidTransition,
    check_transition,
)
from hilserl_learner.replay.buffer import ReplayBuffer, Transition, sample_mixed, stack
from hilserl_learner.replay.journal import (
    AmbiguousEpisodes,
    TransitionJournal,
    episode_rows,
    remove_episodes,
)
from hilserl_learner.replay.journal import main as journal_command

FIELDS = ('state', 'next_state', 'reward', 'terminated', 'truncated', 'image', 'next_image')


def episode(start: float, length: int, terminated_at_end=True):
    """Transitions whose state[0] counts steps from `start`; images carry the same number."""
    out = []
    for i in range(length):
        s = np.full(18, start + i, np.float32)
        s1 = np.full(18, start + i + 1, np.float32)
        last = i == length - 1
        out.append(Transition(s, np.full((128, 128, 3), (start + i) % 256, np.uint8),
                              np.zeros(3, np.float32), 1, float(last), s1,
                              np.full((128, 128, 3), (start + i + 1) % 256, np.uint8),
                              terminated=last and terminated_at_end,
                              truncated=last and not terminated_at_end))
    return out


def test_next_observation_at_an_episode_boundary_is_that_episodes_last():
    buffer = ReplayBuffer(100)
    buffer.add(stack(episode(0, 5)))     # states 0..4, final observation 5
    buffer.add(stack(episode(100, 5, terminated_at_end=False)))
    data = buffer.gather(np.arange(10), FIELDS)
    # The last step of the first episode leads to 5 (its own end), not to 100.
    assert data['next_state'][4, 0] == 5 and data['next_image'][4, 0, 0, 0] == 5
    assert data['terminated'][4] and not data['truncated'][4]
    assert data['state'][5, 0] == 100
    assert data['truncated'][9] and not data['terminated'][9]
    assert data['next_state'][9, 0] == 105


def test_ring_overwrites_the_oldest_and_keeps_uint8_images():
    buffer = ReplayBuffer(8)
    buffer.add(stack(episode(0, 6)))
    buffer.add(stack(episode(10, 6)))
    assert len(buffer) == 8 and buffer.total_added == 12
    assert buffer.data['image'].dtype == np.uint8
    newest = buffer.newest(8)
    assert list(newest['state'][:, 0]) == [4, 5, 10, 11, 12, 13, 14, 15]


def test_rlpd_batches_are_half_demo_half_online():
    online, demo = ReplayBuffer(1000), ReplayBuffer(1000)
    online.add(stack(episode(0, 50)))
    demo.add(stack(episode(1000, 50)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        batch = sample_mixed(online, demo, 256, 0.5, rng, ('state',))
        from_demo = batch['state'][:, 0] >= 1000
        assert from_demo.sum() == 128
    batch = sample_mixed(online, demo, 10, 0.3, rng, ('state',))
    assert (batch['state'][:, 0] >= 1000).sum() == 3
    # Without demos (or without online data yet) the batch comes from the other buffer.
    assert len(sample_mixed(online, ReplayBuffer(10), 16, 0.5, rng, ('state',))['state']) == 16
    batch = sample_mixed(ReplayBuffer(10), demo, 16, 0.5, rng, ('state',))
    assert np.all(batch['state'][:, 0] >= 1000)


def test_a_mixed_batch_is_the_demo_rows_then_the_online_rows_that_were_drawn():
    online, demo = ReplayBuffer(100), ReplayBuffer(100)
    online.add(stack(episode(0, 50)))
    demo.add(stack(episode(1000, 30)))
    batch = sample_mixed(online, demo, 10, 0.3, np.random.default_rng(3), FIELDS)
    rng = np.random.default_rng(3)  # the same draws: 3 demo rows, then 7 online ones
    rows = [demo.gather(rng.integers(0, 30, 3), FIELDS),
            online.gather(rng.integers(0, 50, 7), FIELDS)]
    for name in FIELDS:
        assert np.array_equal(batch[name], np.concatenate([part[name] for part in rows])), name


def test_journal_replays_what_was_appended_and_prunes_what_no_buffer_holds(tmp_path):
    journal = TransitionJournal(str(tmp_path), online_capacity=10, demo_capacity=4)
    for k in range(6):
        columns = stack(episode(10 * k, 5))
        journal.append(columns, to_demo=np.array([k == 0] * 5))
    assert journal.count == 30
    chunks = list(journal.replay())
    assert len(chunks) == 6 and chunks[2]['state'][0, 0] == 20
    assert chunks[0]['to_demo'].all() and not chunks[1]['to_demo'].any()
    # The first chunk holds the only demo rows: it stays until 4 newer demo rows exist.
    assert journal.prune() == 0
    journal.append(stack(episode(100, 5)), to_demo=np.ones(5, bool))
    assert journal.prune() == 5  # chunks 0..4: online has 10 newer rows, demo 5 newer rows
    reopened = TransitionJournal(str(tmp_path), 10, 4)
    assert reopened.count == 35
    assert [c['state'][0, 0] for c in reopened.replay()] == [50, 100]


def _journal_of_episodes(directory, lengths, chunk_rows):
    """Episodes 0, 1, ... of these lengths, journaled in chunks of `chunk_rows` rows that cut
    across episodes; state[0] numbers the rows, every third row went to the demo buffer."""
    journal = TransitionJournal(str(directory), online_capacity=1000, demo_capacity=1000)
    episodes = np.repeat(np.arange(len(lengths)), lengths)
    rows = episode(0, len(episodes))
    for start in range(0, len(rows), chunk_rows):
        part = slice(start, start + chunk_rows)
        journal.append(stack(rows[part]), to_demo=np.arange(len(rows))[part] % 3 == 0,
                       episodes=episodes[part])
    return journal, episodes


def _replayed(directory):
    chunks = list(TransitionJournal(str(directory), 1000, 1000).replay())
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}


def test_the_rows_of_removed_episodes_leave_the_journal_and_the_rest_stay(tmp_path):
    journal, episodes = _journal_of_episodes(tmp_path, [4, 6, 3, 5], chunk_rows=5)
    before = _replayed(tmp_path)
    assert list(before['episode']) == list(episodes)

    assert remove_episodes(tmp_path, [1, 3]) == {'removed': 11, 'unidentified': 0}
    after = _replayed(tmp_path)
    staying = ~np.isin(episodes, [1, 3])
    assert list(after['episode']) == [0] * 4 + [2] * 3
    for name, column in before.items():  # every column of the other rows, in their order
        assert np.array_equal(after[name], column[staying]), name
    # The chunk names still count rows and demo rows right: a reopened journal continues
    # after the last surviving row, and pruning keeps what the buffers can hold.
    reopened = TransitionJournal(str(tmp_path), 1000, 1000)
    assert reopened.count == 10 + 3  # the last chunk left starts at row 10 and kept 3 rows
    assert reopened.prune() == 0
    assert remove_episodes(tmp_path, [1, 3]) == {'removed': 0, 'unidentified': 0}  # again: no-op
    # the command a person types (README, "On the real arm", step 7)
    assert journal_command([str(tmp_path), '--remove-episodes', '0', '2']) == 0
    assert journal_command([str(tmp_path / 'none'), '--remove-episodes', '0']) == 2
    assert list(TransitionJournal(str(tmp_path), 1000, 1000).replay()) == []


def test_a_removal_killed_midway_leaves_no_row_twice(tmp_path):
    _journal_of_episodes(tmp_path, [3, 3], chunk_rows=6)
    [original] = list(tmp_path.glob('chunk_*.npz'))
    kept = original.read_bytes()
    remove_episodes(tmp_path, [0])
    original.write_bytes(kept)  # as if killed after writing the rewrite, before the unlink
    assert list(_replayed(tmp_path)['episode']) == [1, 1, 1]
    assert len(list(tmp_path.glob('chunk_*.npz'))) == 1


def test_two_actors_episodes_of_one_number_leave_one_at_a_time(tmp_path):
    """Two arms feed one learner and each numbers its episodes from 0: a removal says whose."""
    journal = TransitionJournal(str(tmp_path), 100, 100)
    for actor, first_row in (('so101', 0), ('so101_b', 10), ('so101', 20)):
        journal.append(stack(episode(first_row, 3)), to_demo=np.zeros(3, bool),
                       episodes=[first_row // 20] * 3, actors=[actor] * 3)
    with pytest.raises(AmbiguousEpisodes, match=r"\['so101', 'so101_b'\]: say whose"):
        remove_episodes(tmp_path, [0])
    assert journal_command([str(tmp_path), '--remove-episodes', '0']) == 2
    assert remove_episodes(tmp_path, [1]) == {'removed': 3, 'unidentified': 0}  # so101's only
    assert journal_command([str(tmp_path), '--remove-episodes', '0', '--actor', 'so101_b']) == 0
    after = _replayed(tmp_path)
    assert list(after['actor']) == ['so101'] * 3 and list(after['state'][:, 0]) == [0, 1, 2]


def test_rows_journaled_without_episode_ids_stay(tmp_path):
    journal = TransitionJournal(str(tmp_path), 100, 100)
    journal.append(stack(episode(0, 4)), to_demo=np.zeros(4, bool))
    assert remove_episodes(tmp_path, [0]) == {'removed': 0, 'unidentified': 4}
    assert len(_replayed(tmp_path)['state']) == 4


def _valid(**changes):
    values = dict(state=np.zeros(18), image=np.zeros((128, 128, 3), np.uint8),
                  action=np.zeros(3), gripper_action=1, reward=0.0, next_state=np.zeros(18),
                  next_image=np.zeros((128, 128, 3), np.uint8), terminated=False,
                  truncated=False, is_intervention=False)
    values.update(changes)
    return values


@pytest.mark.parametrize('changes, reason', [
    ({'state': np.zeros(17)}, 'state has 17 values'),
    ({'next_state': np.full(18, np.nan)}, 'non-finite'),
    ({'action': np.array([0, 2.0, 0])}, 'outside'),
    ({'gripper_action': 7}, 'gripper_action'),
    ({'reward': float('inf')}, 'reward'),
    ({'image': np.zeros((64, 64, 3), np.uint8)}, 'image has shape'),
    ({'next_image': None}, 'next_image'),
])
def test_malformed_transitions_are_refused_with_the_reason(changes, reason):
    with pytest.raises(InvalidTransition, match=reason):
        check_transition(**_valid(**changes))


def test_a_valid_transition_passes_and_success_on_the_last_step_is_terminal():
    t = check_transition(**_valid(terminated=True, truncated=True, action=np.array([1.0005, 0, 0])))
    assert t.terminated and not t.truncated and t.action[0] == 1.0


def test_episode_book_refuses_inconsistent_ids():
    book = EpisodeBook()
    assert book.admit('a', 0, 0, False) is None
    assert book.admit('a', 0, 1, False) is None
    assert 'repeats' in book.admit('a', 0, 1, False)
    assert book.admit('a', 0, 3, True) is None and book.lost_steps == 1
    assert 'already ended' in book.admit('a', 0, 4, False)
    assert book.admit('b', 5, 0, False) is None  # actors are independent
    assert book.admit('a', 1, 0, False) is None
    assert 'older' in book.admit('a', 0, 7, False)
    assert book.admit('a', 0, 0, False) is None  # an actor that restarted its numbering


def test_an_actor_that_died_mid_episode_is_taken_again_from_its_first_step():
    # A replacement actor (same actor_id, same run) numbers on from the episodes written, so
    # its first episode has the id of the one its predecessor died in.
    book = EpisodeBook()
    for step in range(5):
        assert book.admit('a', 3, step, False) is None
    assert book.admit('b', 7, 0, False) is None
    for step in range(7):
        assert book.admit('a', 3, step, step == 6) is None, step
    assert book.admit('b', 7, 1, False) is None and book.lost_steps == 0
    # ... also when it died between its last step and writing the episode's record
    assert book.admit('a', 3, 0, False) is None


def test_gripper_penalty_is_charged_for_toggles_only():
    penalty = GripperTogglePenalty(0.02)
    close, stay, open_ = 0, 1, 2
    charged = [penalty('a', 0, g) for g in (open_, stay, close, close, stay, open_)]
    assert charged == [0.0, 0.0, 0.02, 0.0, 0.0, 0.02]
    assert penalty('a', 1, open_) == 0.0  # a new episode starts open
    assert penalty('a', 1, close) == 0.02
    # a restarted actor's episode with the same id starts open again
    assert penalty('a', 1, close, first_step=True) == 0.02


def test_a_buffer_of_features_keeps_no_images_and_a_quarter_of_the_memory():
    with_images = ReplayBuffer(4, feature_shape=(512, 4, 4))
    features_only = ReplayBuffer(4, feature_shape=(512, 4, 4), store_images=False)
    assert 'image' not in features_only.data
    assert features_only.bytes_per_transition() < with_images.bytes_per_transition() / 3.5
    with pytest.raises(ValueError, match='needs feature maps'):
        ReplayBuffer(4, store_images=False)


def test_a_reader_of_a_running_learners_journal_leaves_its_chunk_being_written_alone(tmp_path):
    """Tests and tools count a live journal's rows while the learner writes and prunes it: a
    reader that took the chunk being written for a leftover and deleted it failed the learner's
    rename (and the reader itself, on the vanished file)."""
    journal = TransitionJournal(str(tmp_path), online_capacity=6, demo_capacity=6)
    for first_row, actor in ((0, 'so101'), (4, 'so101_b')):
        journal.append(stack(episode(first_row, 4)), to_demo=np.zeros(4, bool),
                       episodes=[first_row // 4] * 4, actors=[actor] * 4)
    being_written = tmp_path / 'chunk_000000000008_000004_000000.tmp.npz'
    being_written.write_bytes(b'half a chunk')
    assert episode_rows(tmp_path) == {('so101', 0): 4, ('so101_b', 1): 4}
    assert being_written.exists()
    # the journal's writer, reopening after a kill, deletes what the kill left
    assert TransitionJournal(str(tmp_path), 6, 6).count == 8
    assert not being_written.exists()

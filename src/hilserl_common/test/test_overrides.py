"""NODE.PARAM=VALUE on the command line: values read as YAML, a later item wins, and a malformed
item or an unknown node is named."""
import pytest

from hilserl_common.overrides import OverrideError, parse_overrides


def test_values_are_read_as_yaml_and_a_later_item_wins():
    assert parse_overrides(['learner.utd_ratio=10', 'actor.cameras=[wrist_camera]',
                            '*.seed=3', 'learner.utd_ratio=4', 'actor.policy_file=']) == {
        'learner': {'utd_ratio': 4}, 'actor': {'cameras': ['wrist_camera'], 'policy_file': None},
        '*': {'seed': 3}}


@pytest.mark.parametrize('item', ['learner', 'learner=3', 'utd_ratio=3', '.utd_ratio=3',
                                  'learner.=3'])
def test_a_malformed_item_names_itself(item):
    with pytest.raises(OverrideError, match=f"--set '{item}': expected NODE.PARAM=VALUE"):
        parse_overrides([item])


def test_an_unknown_node_or_a_value_that_is_not_yaml_is_named():
    with pytest.raises(OverrideError, match="no node 'lerner' here; one of actor, learner"):
        parse_overrides(['lerner.utd_ratio=3'], nodes=['actor', 'learner'])
    with pytest.raises(OverrideError, match="the value '\\[1' is not YAML"):
        parse_overrides(['learner.hidden=[1'])

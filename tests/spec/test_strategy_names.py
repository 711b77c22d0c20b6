"""Strategy names are listed once (`STRATEGY_TABLE`): the spec accepts each and NNI's names,
and every one the table lists has an implementation."""

import pytest

from nas_cli.errors import SpecError
from nas_cli.spec import (
    LEARNED,
    MULTI_TRIAL,
    ONE_SHOT,
    STRATEGY_TABLE,
    canonical_strategy,
    load_spec,
)


@pytest.mark.parametrize("entry", STRATEGY_TABLE, ids=lambda e: e.name)
def test_each_strategy_is_known_by_its_names(entry):
    for spelling in (entry.name, *entry.nni, *entry.aliases):
        assert canonical_strategy(spelling) == entry.name


def test_a_spec_names_a_strategy_as_nni_does(tmp_path, write_spec):
    spec = load_spec(write_spec(tmp_path, strategy={"name": "RegularizedEvolution"}))
    assert spec.strategy.name == "evolution"


def test_an_unknown_name_lists_the_table(tmp_path, write_spec):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path, strategy={"name": "evolutoin"}))
    assert "choose from " + ", ".join(e.name for e in STRATEGY_TABLE) in str(info.value)
    assert "did you mean 'evolution'?" in str(info.value)


def test_every_strategy_in_the_table_is_implemented():
    from nas_cli.oneshot._methods import LEARNED_METHODS
    from nas_cli.strategy import STRATEGIES

    assert list(STRATEGIES) == list(MULTI_TRIAL)
    assert list(LEARNED_METHODS) == list(LEARNED) and set(LEARNED) < set(ONE_SHOT)

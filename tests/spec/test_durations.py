"""Durations: what a spec's limits read and write, and how timeouts and elapsed times show."""

import pytest
import yaml

from nas_cli.durations import format_duration, format_elapsed, parse_duration
from nas_cli.spec import dump_spec, load_spec


@pytest.mark.parametrize(("seconds", "text"), [
    (1800, "30m"), (90, "90s"), (86400, "1d"), (7200.0, "2h"), (1, "1s"), (1.5, "1.5s"),
])
def test_format_duration_uses_the_largest_exact_unit(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_format_elapsed_rounds_for_display():
    assert [format_elapsed(s) for s in (None, 4.21, 25.3, 125.4, 7300)] == \
        ["-", "4.2s", "25s", "2m 05s", "2h 01m"]


def test_spec_limits_are_written_back_as_they_read(tmp_path, write_spec):
    path = write_spec(tmp_path, max_experiment_duration="90m", max_trial_duration=2.5)
    written = yaml.safe_load(dump_spec(load_spec(path)))
    assert (written["max_experiment_duration"], written["max_trial_duration"]) == ("90m", 2.5)

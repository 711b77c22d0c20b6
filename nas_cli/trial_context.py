"""What a running trial can ask for: `report_intermediate_result`, `report_final_result` and
`current_arch` (no torch)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any


class TrialPruned(Exception):  # noqa: N818 - Optuna's name for the same thing
    """Raised inside a trial (at its next intermediate report) when early stopping stops it."""


_arch: dict[str, Any] | None = None
_report: Callable[[int, float], None] | None = None
_step = 0
_final: Any = None


def report_intermediate_result(value: float | dict[str, float]) -> None:
    """Report a progress value of the running trial (an epoch's accuracy, say).

    The value drives live progress and early stopping; a dict reports its `default` key.
    Outside a trial it does nothing.
    """
    global _step
    if isinstance(value, dict):
        if not value:
            raise TypeError("report_intermediate_result: an empty dict has no value to report")
        value = value.get("default", next(iter(value.values())))
    number = float(value)
    if not math.isfinite(number):
        return
    if _report is not None:
        _report(_step, number)
    _step += 1


def report_final_result(value: float | dict[str, float]) -> None:
    """NNI's way to give the trial's result: a function evaluator that returns nothing is
    scored with the last value reported here."""
    global _final
    _final = value


def final_result() -> Any:
    """The value given to `report_final_result` in the running trial (None if none)."""
    return _final


def current_arch() -> dict[str, Any] | None:
    """The architecture of the running trial (None outside a trial)."""
    return None if _arch is None else dict(_arch)


@contextlib.contextmanager
def trial_scope(arch: dict[str, Any], report: Callable[[int, float], None] | None) -> Iterator[None]:
    global _arch, _report, _step, _final
    saved = (_arch, _report, _step, _final)
    _arch, _report, _step, _final = dict(arch), report, 0, None
    try:
        yield
    finally:
        _arch, _report, _step, _final = saved

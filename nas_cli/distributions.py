"""Numeric ranges: what a continuous decision samples from (a dropout rate, a learning rate).

No torch here: the spec layer validates ranges with it, and `nas status` reads them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Distribution:
    """`low..high` (both included), uniform or uniform in log space, optionally on a grid of
    `step` from `low`, optionally integers.

    >>> Distribution(1e-4, 1e-1, log=True).sample(random.Random(0))
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.low > self.high:
            raise ValueError(f"low must not exceed high, got {self.low!r} > {self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs a positive low bound, got {self.low!r}")
        if self.step is not None and not (isinstance(self.step, int | float) and self.step > 0):
            raise ValueError(f"step must be a positive number, got {self.step!r}")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"integer bounds must be whole numbers, got {self.low!r}, {self.high!r}")

    # --- values --------------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> float | int:
        """A random value in the range (uniform, or uniform in log space)."""
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        elif self.integer and self.step is None:
            return rng.randint(int(self.low), int(self.high))
        else:
            value = rng.uniform(self.low, self.high)
        return self.snap(value)

    def snap(self, value: float) -> float | int:
        """The nearest value the range holds (on the step grid, rounded for integers, clipped)."""
        value = min(max(float(value), self.low), self.high)
        if self.step is not None:
            k = round((value - self.low) / self.step)
            value = min(self.low + k * self.step, self.low + math.floor(
                (self.high - self.low) / self.step + 1e-9) * self.step)
        if self.integer:
            return int(round(value))
        return float(value)

    def default(self) -> float | int:
        """The middle of the range (in log space for a log range): what an unfrozen model
        space is built with."""
        middle = (math.exp((math.log(self.low) + math.log(self.high)) / 2) if self.log
                  else (self.low + self.high) / 2)
        return self.snap(middle)

    def normalize(self, value: Any) -> float | int:
        """`value` as this range records it; ValueError when it is not in the range."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{value!r} is not a number")
        tolerance = 1e-9 * max(1.0, abs(self.high), abs(self.low))
        if not self.low - tolerance <= value <= self.high + tolerance:
            raise ValueError(f"{value!r} is outside [{self.low:g}, {self.high:g}]")
        snapped = self.snap(value)
        if abs(snapped - value) > tolerance:
            raise ValueError(f"{value!r} is not on the grid of {self.describe()}")
        return snapped

    # --- presentation --------------------------------------------------------------------------
    def describe(self) -> str:
        """`loguniform(0.0001, 0.1)`, `randint(1, 8)`, `quniform(0, 1, 0.25)`."""
        if self.integer and not self.log and self.step in (None, 1):
            return f"randint({int(self.low)}, {int(self.high)})"
        name = ("q" if self.step is not None else "") + ("loguniform" if self.log else "uniform")
        step = f", {self.step:g}" if self.step is not None else ""
        kind = ", int" if self.integer else ""
        return f"{name}({self.low:g}, {self.high:g}{step}{kind})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        if self.integer:
            out["integer"] = True
        return out

    def optuna_json(self) -> dict[str, Any]:
        """The range as Optuna's `distribution_to_json` writes it (an IntDistribution or a
        FloatDistribution; Optuna has no log range on a grid, so such a range is stored as
        the log range, its values on the grid), without importing Optuna."""
        if self.integer:
            step = int(self.step or 1)
            log = self.log and step == 1
            return {"name": "IntDistribution", "attributes": {
                "log": log, "step": step, "low": int(self.low), "high": int(self.high)}}
        grid = None if self.log else self.step
        return {"name": "FloatDistribution", "attributes": {
            "step": grid, "low": float(self.low), "high": float(self.high), "log": self.log}}

    def to_optuna(self) -> Any:
        """The Optuna distribution of `optuna_json`."""
        import json

        from optuna.distributions import json_to_distribution

        return json_to_distribution(json.dumps(self.optuna_json()))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(data["low"], data["high"], bool(data.get("log", False)), data.get("step"),
                   bool(data.get("integer", False)))

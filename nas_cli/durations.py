"""Durations as people write and read them: '30m' <-> 1800 seconds (spec limits, timeout
messages), and an elapsed time rounded for display ('2m 05s').

    >>> parse_duration("30m"), format_duration(1800), format_elapsed(125.4)
    (1800.0, '30m', '2m 05s')
"""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float | None:
    """'30m' -> 1800.0; a bare number is seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a duration like 30s, 5m, 2h or 1d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"must be a duration like 30s, 5m, 2h or 1d, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"must be a duration like 30s, 5m, 2h or 1d, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"must be a positive duration, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """1800 -> '30m', 90 -> '90s', 1.5 -> '1.5s': a whole number of seconds in the largest unit
    that holds it exactly (`parse_duration` reads it back unchanged)."""
    if seconds > 0 and seconds == int(seconds):
        whole = int(seconds)
        for unit in ("d", "h", "m"):
            if whole % _UNIT_SECONDS[unit] == 0:
                return f"{whole // _UNIT_SECONDS[unit]}{unit}"
        return f"{whole}s"
    return f"{seconds:g}s"


def format_elapsed(seconds: float | None) -> str:
    """An elapsed time for display: '4.2s', '25s', '2m 05s', '1h 02m'; None is '-'."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"

"""The significance test `nas bench` reports: one-sided Mann-Whitney U (scipy's)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mann_whitney_less(sample: Sequence[float], baseline: Sequence[float]) -> float:
    """The one-sided p-value that `sample` tends to be lower than `baseline` (regrets: lower
    is better); ties and infinite values (no result) are ranked as they are."""
    from scipy.stats import mannwhitneyu

    if not sample or not baseline:
        return math.nan
    if len(set(sample) | set(baseline)) == 1:  # all equal: no evidence either way
        return 1.0
    big = max([abs(x) for x in (*sample, *baseline) if math.isfinite(x)], default=0.0) + 1.0
    finite = [x if math.isfinite(x) else big for x in sample]  # ranks only: inf -> the worst
    reference = [x if math.isfinite(x) else big for x in baseline]
    return float(mannwhitneyu(finite, reference, alternative="less").pvalue)

"""Pareto fronts of trials with several objectives: dominance, the front, non-dominated sorting,
crowding distance and hypervolume.

Points are tuples oriented "higher is better" in every coordinate (`oriented` flips minimized
objectives), as strategies receive them. No torch, no optuna (except `hypervolume` in three or
more dimensions, which uses Optuna's exact WFG implementation).

>>> front([(0.9, -100), (0.8, -50), (0.7, -200)])
[0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = Sequence[float]


def oriented(values: Sequence[float], modes: Sequence[str]) -> tuple[float, ...]:
    """Objective values as "higher is better" (minimized ones negated)."""
    return tuple(v if mode == "maximize" else -v for v, mode in zip(values, modes))


def dominates(a: Point, b: Point) -> bool:
    """`a` is at least as good as `b` everywhere and better somewhere."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def front(points: Sequence[Point]) -> list[int]:
    """Indices (ascending) of the points no other point dominates; equal points are all kept.

    A point can only be dominated by one that comes before it in descending lexicographic
    order, and then by one of the front found so far: O(n log n + n * front size)."""
    order = sorted(range(len(points)), key=lambda i: tuple(points[i]), reverse=True)
    kept: list[int] = []
    for i in order:
        if not any(dominates(points[j], points[i]) for j in kept):
            kept.append(i)
    return sorted(kept)


def nondominated_sort(points: Sequence[Point]) -> list[int]:
    """The rank of each point: 0 for the front, 1 for the front of the rest, ..."""
    ranks = [-1] * len(points)
    left = list(range(len(points)))
    rank = 0
    while left:
        current = [left[i] for i in front([points[i] for i in left])]
        for i in current:
            ranks[i] = rank
        chosen = set(current)
        left = [i for i in left if i not in chosen]
        rank += 1
    return ranks


def crowding(points: Sequence[Point]) -> list[float]:
    """NSGA-II's crowding distance of each point among `points` (one front): the sum over
    objectives of the normalized gap between its neighbours; boundary points get infinity."""
    n = len(points)
    if n <= 2:
        return [math.inf] * n
    distance = [0.0] * n
    for k in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][k])
        low, high = points[order[0]][k], points[order[-1]][k]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low or not math.isfinite(high - low):  # (a failure told as -inf)
            continue
        for left, middle, right in zip(order, order[1:], order[2:]):
            distance[middle] += (points[right][k] - points[left][k]) / (high - low)
    return distance


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """The volume dominated by `points` and bounded below by `reference` (every coordinate
    of `reference` worse than the points'; points not better than it everywhere add nothing)."""
    inside = [tuple(p) for p in points if all(x > r for x, r in zip(p, reference))]
    if not inside:
        return 0.0
    if len(reference) == 1:
        return max(p[0] for p in inside) - reference[0]
    if len(reference) == 2:
        volume, best_y = 0.0, reference[1]
        for x, y in sorted(inside, reverse=True):  # x descending: each adds a new strip
            if y > best_y:
                volume += (x - reference[0]) * (y - best_y)
                best_y = y
        return volume
    import numpy as np
    from optuna._hypervolume import compute_hypervolume  # exact (WFG); minimizes

    losses = -np.asarray([inside[i] for i in front(inside)], dtype=float)
    return float(compute_hypervolume(losses, -np.asarray(reference, dtype=float),
                                     assume_pareto=True))


def hypervolume_history(points: Sequence[Point], reference: Point,
                        at: Sequence[int] | None = None) -> list[float]:
    """The hypervolume of the first n points, for each n in `at` (default: 1..len(points))."""
    steps = list(at) if at is not None else list(range(1, len(points) + 1))
    out = []
    current: list[Point] = []
    taken = 0
    for n in steps:
        current += points[taken:n]
        taken = n
        current = [current[i] for i in front(current)]
        out.append(hypervolume(current, reference))
    return out

"""The HTML page of `nas bench`: per worker count, the summary table and the mean regret of each
strategy against trials and against virtual time (self-contained, like `nas report`)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas_cli._files import atomic_write_text
from nas_cli.errors import NasError
from nas_cli.report._html import _PAGE, _PALETTE, NEEDS, _figure, _fmt, _section, _table

_TIME_POINTS = 200


def write_bench_report(result: Any, output: Path) -> Path:
    """Write the comparison in `result` (a `nas_cli.lab.BenchResult`) to `output`."""
    try:
        import plotly.offline
    except ImportError:
        raise NasError(NEEDS) from None
    sections = [_section(f"workers-{w}", f"{w} worker{'s' * (w != 1)}", _workers(result, w))
                for w in result.workers]
    spec = result.spec
    header = (
        f"<h1>{html.escape(spec.experiment_name or 'nas bench')}: strategies compared</h1>"
        f"<p class=\"sub\">{result.trials} trials per run, {result.seeds} seeds, on a simulated "
        f"cluster (virtual time) over the table {html.escape(str(spec.evaluator.path))} "
        f"({result.size:,} architectures with a result); objective "
        f"{html.escape(spec.objective.metric)} ({spec.objective.mode}), optimum "
        f"{_fmt(result.optimum)}, top 1% at least as good as {_fmt(result.top)}. Regret: the "
        "distance from the best found so far to the optimum (mean over seeds); p: one-sided "
        "Mann-Whitney U, final regrets lower than random search's.</p>"
    )
    page = _PAGE.format(title=html.escape("nas bench"), plotlyjs=plotly.offline.get_plotlyjs(),
                        header=header, sections="\n".join(sections))
    atomic_write_text(Path(output), page)
    return Path(output)


def _workers(result: Any, workers: int) -> str:
    rows = result.summary(workers)
    budgets = result.budgets()
    head = ["strategy", *(f"regret @{b}" for b in budgets), "top 1% found", "p vs random",
            "virtual time per run"]
    body = []
    for row in rows:
        p = row["p_vs_random"]
        cells = [row["strategy"], *(_fmt(row["regret"][b]) for b in budgets),
                 f"{row['top_share']:.0%}", "-" if p is None else f"{p:.3g}",
                 _virtual(row["virtual_s"])]
        body.append("<tr>" + "".join(f"<td class=\"num\">{html.escape(c)}</td>" for c in cells)
                    + "</tr>")
    return (_table(head, body, "summary") + _by_trials(result, workers)
            + _by_time(result, workers))


def _by_trials(result: Any, workers: int) -> str:
    steps = list(range(1, result.trials + 1))
    return _regret_figure(result, workers, steps, result.best_after, "trials finished",
                          f"trials-{workers}")


def _by_time(result: Any, workers: int) -> str:
    runs = [r for r in result.runs if r.workers == workers and r.ends]
    horizon = max((r.ends[-1] for r in runs), default=0.0)
    grid = [horizon * i / _TIME_POINTS for i in range(1, _TIME_POINTS + 1)]
    return _regret_figure(result, workers, grid, result.best_by, "virtual seconds",
                          f"time-{workers}")


def _regret_figure(result: Any, workers: int, xs: Sequence[float], best_at: Any, axis: str,
                   name: str) -> str:
    """Mean regret of each strategy at each x (`best_at(run, x)`: the best found by then)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    later: list[float] = []  # what the y axis shows: the first tenth's large regrets are cut
    for index, strategy in enumerate(result.strategies):
        runs = result.of(strategy, workers)
        if runs:
            mean = [_mean_regret(result, [best_at(r, x) for r in runs]) for x in xs]
            later += [m for m in mean[len(mean) // 10:] if m is not None and math.isfinite(m)]
            fig.add_trace(go.Scatter(x=xs, y=mean, name=strategy, mode="lines",
                                     line={"color": _PALETTE[index % len(_PALETTE)]}))
    against = "time" if axis == "virtual seconds" else "trials"
    fig.update_layout(title=f"mean regret against {against}", xaxis_title=axis,
                      yaxis_title="mean regret")
    if later and max(later) > 0:
        fig.update_yaxes(range=[0, 1.1 * max(later)])
    return _figure(fig, name, height=360)


def _mean_regret(result: Any, bests: list[float | None]) -> float | None:
    """Mean regret over the runs that have a result yet (None before any has)."""
    regrets = [result.regret(b) for b in bests if b is not None]
    return sum(regrets) / len(regrets) if regrets else None


def _virtual(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"

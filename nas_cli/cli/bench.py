"""`nas bench SPEC`: compare strategies on the spec's table, on a simulated cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import err, out

_STRATEGIES = "Strategies to compare, comma-separated (random is the baseline of the p-values)."
_WORKERS = "Simulated worker counts, comma-separated: every strategy runs on each."
_OUTPUT = "The HTML report (default: <spec name>-bench.html here)."


def _numbers(text: str, option: str) -> list[int]:
    from nas_cli.errors import UsageError

    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise UsageError(f"{option}: must be positive whole numbers separated by commas, "
                         f"got {text!r}")
    return list(dict.fromkeys(values))


def bench(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="A spec with a table evaluator.")],
    strategies: Annotated[str, typer.Option("--strategies", help=_STRATEGIES)
                          ] = "random,evolution,tpe,rl",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds per strategy.")] = 30,
    trials: Annotated[int, typer.Option("--trials", min=1, help="Trials per run.")] = 150,
    workers: Annotated[str, typer.Option("--workers", help=_WORKERS)] = "1",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help=_OUTPUT)] = None,
) -> None:
    """Run each strategy x seed x worker count on a simulated cluster over the spec's table;
    print mean regret, top-1% share and p vs random; write the regret curves as HTML."""
    from nas_cli.errors import UsageError
    from nas_cli.lab import check_bench, run_bench
    from nas_cli.report import write_bench_report
    from nas_cli.spec import load_spec

    counts = _numbers(workers, "--workers")
    experiment_spec = load_spec(spec)
    names = check_bench(experiment_spec, strategies.split(","))
    path = output if output is not None else Path(f"{spec.stem}-bench.html")
    if path.is_dir():
        raise UsageError(f"--output {path} is a folder; name a file (e.g. {path / 'bench.html'})")
    result = run_bench(experiment_spec, names, seeds=seeds, trials=trials, workers=counts,
                       progress=lambda line: err.print(line, markup=False))
    for count in counts:
        _print_table(result, count)
    write_bench_report(result, path)
    out.print(f"report: {path}", markup=False)


def _print_table(result, workers: int) -> None:
    """Plain columns (they stay readable in logs and narrow terminals)."""
    from nas_cli.cli._common import fmt_metric

    spec = result.spec
    out.print(f"\n{workers} worker{'s' * (workers != 1)}: {result.trials} trials x "
              f"{result.seeds} seeds; {spec.objective.metric} optimum "
              f"{fmt_metric(result.optimum)}, top 1% >= {fmt_metric(result.top)} "
              f"(virtual time)", markup=False)
    budgets = result.budgets()
    head = ["strategy", *(f"regret@{b}" for b in budgets), "top1%", "p_vs_random",
            "virtual_s/run", "wall_s/run"]
    rows = [head]
    for row in result.summary(workers):
        p = row["p_vs_random"]
        rows.append([row["strategy"], *(f"{row['regret'][b]:.4f}" for b in budgets),
                     f"{row['top_share']:.0%}", "-" if p is None else f"{p:.3g}",
                     f"{row['virtual_s']:.4g}", f"{row['wall_s']:.2f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        out.print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(r, widths))), markup=False)

"""`nas run SPEC` and `nas resume EXP`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import (
    EXIT_INTERRUPTED,
    arch_text,
    err,
    fmt_metric,
    fmt_value,
    out,
    print_table,
)
from nas_cli.trials import ExperimentStatus


def _listener(quiet: bool):
    from nas_cli.cli._progress import LiveProgress, PlainProgress

    if not quiet and out.is_terminal:
        return LiveProgress()
    return PlainProgress(quiet=quiet)


def _summary(run, quiet: bool) -> None:
    from nas_cli.store import RESULTS
    from nas_cli.trials import TrialState, rank

    records = list(run.records.values())
    if not quiet and run.spec.multi_objective:
        _front_table(run)
    elif not quiet:
        ranked = [r for r in rank(records, run.mode) if r.state is TrialState.COMPLETE][:5]
        if ranked:
            from rich.table import Table

            table = Table(title=f"best architectures ({run.spec.objective.metric}, "
                                f"{run.spec.objective.mode})", title_justify="left")
            time_column = "virtual time" if run.virtual else "time"
            phases = any(r.phase for r in ranked)  # one-shot: inherited or retrained metric
            for column in ("rank", "trial", *(["phase"] if phases else []),
                           run.spec.objective.metric, "params", time_column):
                table.add_column(column, justify="right")
            table.add_column("architecture")
            for position, r in enumerate(ranked, 1):
                table.add_row(str(position), str(r.number), *([r.phase or "-"] if phases else []),
                              fmt_metric(r.metric),
                              f"{r.params:,}" if r.params is not None else "-",
                              f"{r.duration_s or 0:.1f}s", arch_text(r.arch, 100))
            print_table(table)
    counts = {s: sum(1 for r in records if r.state is s) for s in TrialState}
    parts = [f"{n} {s.value}" for s, n in counts.items() if n]
    out.print(f"experiment {run.id} {run.status}: {', '.join(parts) or 'no trials'} "
              f"({run.stop_reason}); results in {run.path / RESULTS}", markup=False)


def _front_table(run, shown: int = 10) -> None:
    """The Pareto front (several objectives), by the first objective."""
    from rich.table import Table

    front = sorted(run.front, key=lambda r: (-run.score(r), r.number))
    if not front:
        return
    more = f" (the first {shown} by {run.spec.objective.metric})" if len(front) > shown else ""
    table = Table(title=f"Pareto front: {len(front)} trials{more}", title_justify="left")
    table.add_column("trial", justify="right", no_wrap=True)
    for objective in run.spec.objectives:
        table.add_column(f"{objective.metric} ({objective.mode[:3]})", justify="right",
                         no_wrap=True)
    table.add_column("architecture")
    for r in front[:shown]:
        table.add_row(str(r.number), *(fmt_value(v) for v in r.values), arch_text(r.arch, 90))
    print_table(table)


def _execute(handle, quiet: bool, resume: bool = False) -> None:
    """Run (Ctrl-C stops cleanly, see `execute`); the summary; the exit code."""
    from nas_cli.errors import ExperimentError
    from nas_cli.experiment import execute

    try:
        execute(handle, resume=resume)
    except ExperimentError:
        _summary(handle, quiet=True)
        raise
    _summary(handle, quiet)
    if handle.status is ExperimentStatus.INTERRUPTED:
        err.print(f"interrupted: continue with `nas resume {handle.id}`", markup=False)
        sys.exit(EXIT_INTERRUPTED)


def run(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The experiment spec (YAML).")],
    name: Annotated[Optional[str], typer.Option("--name", help="Experiment name.")] = None,
    max_trials: Annotated[Optional[int], typer.Option(
        "--max-trials", min=1, help="Override max_trial_number.")] = None,
    concurrency: Annotated[Optional[int], typer.Option(
        "--concurrency", min=1, help="Override trial_concurrency.")] = None,
    exp_dir: Annotated[Optional[Path], typer.Option(
        "--exp-dir", help="Where experiments live (default: ./nas-experiments).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final summary.")] = False,
) -> None:
    """Run an experiment to its end; prints the experiment id and the ranked architectures."""
    from nas_cli.experiment import create_experiment
    from nas_cli.spec import load_spec
    from nas_cli.store import experiments_root

    overrides = {"experiment_name": name, "max_trial_number": max_trials,
                 "trial_concurrency": concurrency}
    experiment_spec = load_spec(spec, overrides)
    handle = create_experiment(experiment_spec, experiments_root(exp_dir), _listener(quiet))
    _execute(handle, quiet)


def resume(
    experiment: Annotated[str, typer.Argument(metavar="EXP", help="Experiment id, id prefix or name.")],
    exp_dir: Annotated[Optional[Path], typer.Option("--exp-dir")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Continue an interrupted experiment up to its limits; completed trials are kept."""
    from nas_cli.execution import start_server_for_spec
    from nas_cli.experiment import open_experiment
    from nas_cli.store import SPEC, experiments_root, resolve

    path = resolve(experiments_root(exp_dir), experiment)
    start_server_for_spec(str(path / SPEC))  # workers' torch import starts beside the spec's checks
    handle = open_experiment(path, _listener(quiet))
    _execute(handle, quiet, resume=True)

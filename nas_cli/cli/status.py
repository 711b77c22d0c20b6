"""`nas status [EXP]`: one experiment's state and best trials, or every experiment."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from nas_cli.cli._common import arch_text, fmt_metric, fmt_value, out, print_table, size_text
from nas_cli.trials import ExperimentStatus

if TYPE_CHECKING:
    from rich.table import Table

    from nas_cli.store import ExperimentInfo


def status(
    experiment: Annotated[Optional[str], typer.Argument(metavar="EXP", help="Experiment id, prefix or name.")] = None,
    exp_dir: Annotated[Optional[Path], typer.Option("--exp-dir")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    top: Annotated[int, typer.Option("--top", min=1)] = 5,
) -> None:
    """Where an experiment stands (without EXP: all experiments)."""
    from nas_cli.report import status_json
    from nas_cli.store import experiments_root, load_info, resolve

    root = experiments_root(exp_dir)
    if experiment is None:
        _list_experiments(root, as_json)
        return
    summary = status_json(load_info(resolve(root, experiment)), top=top)
    if as_json:
        out.print_json(json.dumps(summary))
        return
    _print_state(summary)
    if summary.get("oneshot"):
        _print_oneshot(summary["oneshot"], summary.get("objective") or {})
    if summary.get("pareto_front"):
        print_table(_front_table(summary))
    elif summary["best"]:
        print_table(_best_table(summary))
    for failure in summary["failures"]:
        out.print(f"trial {failure['trial']} failed: {failure['error']}", markup=False, style="red")
    for trial in summary["retried"]:
        out.print(f"trial {trial['trial']} ran {trial['attempts']} times ({trial['status']}); "
                  f"lost before: {'; '.join(str(e) for e in trial['lost'])}", markup=False)


def _list_experiments(root: Path, as_json: bool) -> None:
    """Every experiment under `root`: a table, or a JSON list of their summaries."""
    from rich.table import Table

    from nas_cli.store import list_experiments

    infos = list_experiments(root)
    summaries = [_summary_or_none(i) for i in infos]
    if as_json:
        out.print_json(json.dumps([s or {"experiment": i.id, "status": ExperimentStatus.UNREADABLE}
                                   for i, s in zip(infos, summaries)]))
        return
    if not infos:
        out.print(f"no experiments under {root}; start one with `nas run SPEC`", markup=False)
        return
    table = Table(title=f"experiments in {root}", title_justify="left")
    # the id is what users copy into other commands: never cut it short
    table.add_column("id", no_wrap=True, min_width=max(len(i.id) for i in infos))
    for column in ("name", "status", "trials", "best"):  # whole in a narrow terminal too
        table.add_column(column, no_wrap=True)
    table.add_column("created")
    for info, summary in zip(infos, summaries):
        if summary is None:
            table.add_row(info.id, info.name, ExperimentStatus.UNREADABLE, "?", "-", "-")
            continue
        best = summary["best"][0]["metric"] if summary["best"] else None
        metric = (summary.get("objective") or {}).get("metric", "")
        table.add_row(info.id, info.name, info.status,
                      f"{summary['finished']}/{summary['max_trial_number'] or '?'}",
                      f"{metric}={fmt_metric(best)}" if best is not None else "-",
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created)))
    print_table(table)


def _print_state(summary: dict[str, Any]) -> None:
    """Its status, trial counts, space, strategy and elapsed time; why it stopped."""
    from nas_cli.durations import format_elapsed

    counts = ", ".join(f"{n} {s}" for s, n in summary["trials"].items() if n)
    out.print(f"experiment {summary['experiment']} ({summary['name']}): {summary['status']}",
              markup=False)
    out.print(f"trials: {summary['finished']}/{summary['max_trial_number']} finished "
              f"({counts or 'none yet'}); space {size_text(summary['space_size'])} architectures, "
              f"strategy {summary['strategy']}, elapsed {format_elapsed(summary['elapsed_s'] or 0)}"
              + (" (virtual: a simulated cluster)" if summary["clock"] == "virtual" else ""),
              markup=False)
    if summary.get("stop_reason"):
        out.print(f"stopped because: {summary['stop_reason']}", markup=False)


def _print_oneshot(oneshot: dict[str, Any], objective: dict[str, Any]) -> None:
    """A one-shot run's phases: the supernet's epochs, what was scored and retrained."""
    done, epochs = oneshot["supernet_epochs"]
    last = oneshot["supernet_last_epoch"]
    metric = objective.get("metric")
    which = "the derived architecture" if "derived" in oneshot else "sampled paths"
    shown = f", {metric} of {which} {fmt_metric(last.get(metric))}" if last else ""
    out.print(f"one-shot ({oneshot['method']}), phase {oneshot['phase'] or '-'}: supernet "
              f"{done}/{epochs} epochs{shown}; {oneshot['searched']} architectures scored "
              f"on inherited weights, {oneshot['retrained']} retrained", markup=False)
    if oneshot.get("derived"):
        out.print(f"derived architecture (probability "
                  f"{fmt_metric(oneshot.get('derived_probability'))}): "
                  f"{arch_text(oneshot['derived'], 200)}", markup=False)
    if oneshot.get("warning"):
        out.print(f"warning: {oneshot['warning']}", markup=False, style="yellow")


def _front_table(summary: dict[str, Any]) -> Table:
    """Several objectives: the Pareto front, one column per objective."""
    from rich.table import Table

    objective = summary.get("objective") or {}
    listed = len(summary["pareto_front"])
    table = Table(title=f"Pareto front: {summary['pareto_size']} trials"
                        + (f" (the first {listed} by {objective.get('metric')})"
                           if listed < summary["pareto_size"] else ""),
                  title_justify="left")
    table.add_column("trial", justify="right", no_wrap=True)
    for item in summary["objectives"]:
        table.add_column(f"{item['metric']} ({item['mode'][:3]})", justify="right",
                         no_wrap=True)
    table.add_column("architecture")
    for row in summary["pareto_front"]:
        table.add_row(str(row["trial"]), *(fmt_value(v) for v in row["values"].values()),
                      arch_text(row["arch"], 80))
    return table


def _best_table(summary: dict[str, Any]) -> Table:
    """One objective: the best trials, ranked (with their phase in a one-shot run)."""
    from rich.table import Table

    objective = summary.get("objective") or {}
    table = Table(title=f"best trials ({objective.get('metric')}, {objective.get('mode')})",
                  title_justify="left")
    phases = summary.get("oneshot") is not None
    for column in ("rank", "trial", *(["phase"] if phases else []),
                   objective.get("metric", "metric"), "params"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("architecture")
    for row in summary["best"]:
        table.add_row(str(row["rank"]), str(row["trial"]),
                      *([row.get("phase", "-")] if phases else []), fmt_metric(row["metric"]),
                      f"{row['params']:,}" if row["params"] is not None else "-",
                      arch_text(row["arch"], 100))
    return table


def _summary_or_none(info: ExperimentInfo) -> dict[str, Any] | None:
    """A listed experiment's summary, or None when its results.json cannot be read."""
    from nas_cli.errors import StoreError
    from nas_cli.report import status_json

    if info.status is ExperimentStatus.UNREADABLE:
        return None
    try:
        return status_json(info, top=1)
    except StoreError:
        return None

"""Showing a running experiment: a Rich live display on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nas_cli.cli._common import arch_text, err, fmt_metric, out, size_text
from nas_cli.experiment import Listener, Run
from nas_cli.trials import TrialRecord, TrialState


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def retry_line(run: Run, record: TrialRecord) -> str:
    """'trial 3 runs again (attempt 2 of 2): its last attempt was lost: <why>'."""
    attempts = len(record.attempts) + 1
    return (f"trial {record.number} runs again (attempt {attempts} of "
            f"{run.spec.max_trial_retries + 1}): {record.attempts[-1]['error']}")

def _phase_text(run: Run, phase: str) -> str:
    """What a one-shot phase does, in a line."""
    info = run.extra.get("oneshot", {})
    learned = info.get("method") != "spos"
    if phase == "supernet":
        sup = info.get("supernet", {})
        done = sup.get("resumed_from")
        how = (f"{info.get('method')}: weight steps on training batches, architecture steps on "
               "validation batches" if learned else "one sampled path per step")
        return (f"phase 1/3, supernet: training {sup.get('epochs')} epochs, {how}"
                + (f" (resuming after epoch {done})" if done else ""))
    if phase == "search":
        search = info.get("search", {})
        if learned:
            return (f"phase 2/3, search: the {len(info.get('top') or [])} most probable "
                    "architectures (the derived one first) scored on the supernet's weights")
        return (f"phase 2/3, search: up to {search.get('trials')} architectures scored on the "
                f"supernet's weights (strategy {search.get('strategy')})")
    return (f"phase 3/3, retrain: the {info.get('retrain', {}).get('top')} best architectures "
            "trained from scratch")


def _epoch_text(run: Run, metrics: dict[str, float]) -> str:
    info = run.extra.get("oneshot", {})
    epochs = info.get("supernet", {}).get("epochs", "?")
    shown = ", ".join(f"{k} {fmt_metric(v)}" for k, v in metrics.items() if k != "epoch")
    if info.get("method") != "spos":
        return (f"supernet epoch {metrics.get('epoch')}/{epochs}: {shown} (validation: the "
                "derived architecture, of probability arch_prob)")
    paths = (run.spec.strategy.model_extra or {}).get("eval_paths", 3)
    return (f"supernet epoch {metrics.get('epoch')}/{epochs}: {shown} "
            f"(validation: mean of {paths} sampled paths)")


class PlainProgress(Listener):
    """One line per event, for logs and pipes."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def _say(self, text: str) -> None:
        if not self.quiet:
            out.print(text, markup=False)

    def stopping(self, run: Run) -> None:
        err.print(f"stopping experiment {run.id}: running trials end interrupted...", markup=False)

    def started(self, run: Run) -> None:
        self._say(f"experiment {run.id} ({run.spec.experiment_name}): up to "
                  f"{run.target} trials of {size_text(run.space_size)} architectures, "
                  f"{run.spec.trial_concurrency} at a time, strategy {run.spec.strategy.name}")
        for note in notes(run):
            self._say(note)

    def trial_started(self, run: Run, record: TrialRecord) -> None:
        self._say(f"trial {record.number} started: {arch_text(record.arch)}")

    def trial_retried(self, run: Run, record: TrialRecord) -> None:
        self._say(retry_line(run, record))

    def phase_started(self, run: Run, phase: str) -> None:
        self._say(_phase_text(run, phase))

    def supernet_epoch(self, run: Run, metrics: dict[str, float]) -> None:
        self._say(_epoch_text(run, metrics))

    def trial_finished(self, run: Run, record: TrialRecord) -> None:
        metric = run.spec.objective.metric
        done = f"[{run.finished_count}/{run.target}]"
        if record.state is TrialState.COMPLETE and record.values is not None:
            self._say(f"{done} trial {record.number} complete: {values_text(run, record)} "
                      f"({record.duration_s or 0:.1f}s)")
        elif record.state is TrialState.COMPLETE:
            best = run.best
            self._say(f"{done} trial {record.number} complete: {metric}={fmt_metric(record.metric)} "
                      f"({record.duration_s or 0:.1f}s); best {fmt_metric(best.metric if best else None)}"
                      f" (trial {best.number if best else '-'})")
        else:
            self._say(f"{done} trial {record.number} {record.state.value}: {record.error}")


def notes(run: Run) -> list[str]:
    """What a user should know about a run before it starts."""
    spec = run.spec
    if not spec.multi_objective:
        return []
    said = ["objectives: " + ", ".join(f"{o.metric} ({o.mode})" for o in spec.objectives)
            + "; results.json lists the Pareto front"]
    if spec.early_stopping is not None:
        said.append(f"early stopping prunes on the first objective, {spec.objective.metric}")
    return said


def values_text(run: Run, record: TrialRecord) -> str:
    """`val_acc=0.93, params=1,234`: a trial's objective values."""
    return ", ".join(f"{o.metric}={fmt_metric(v)}"
                     for o, v in zip(run.spec.objectives, record.values or []))


class LiveProgress(PlainProgress):
    """The terminal view: a bar, the running trials, the best so far, failures as they come."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: deque[str] = deque(maxlen=5)
        self.live: Live | None = None
        self.run: Run | None = None
        self.epoch: str | None = None  # the supernet's last epoch, while it trains

    def started(self, run: Run) -> None:
        self.run = run
        for note in notes(run):
            out.print(note, markup=False)
        self.live = Live(self, console=out, refresh_per_second=4, transient=False)
        self.live.start()

    def __rich__(self) -> Group:
        run = self.run
        if run is None:  # not started: the display starts in started()
            return Group()
        header = Text(f"experiment {run.id} ({run.spec.experiment_name}), strategy "
                      f"{run.spec.strategy.name}, {size_text(run.space_size)} architectures")
        if run.phase is not None:
            header.append(f"\n{_phase_text(run, run.phase)}")
        if run.phase == "supernet":
            return Group(header, Text(f"{self.epoch or 'first epoch running'}  elapsed "
                                      f"{_clock(run.elapsed())}"),
                         *(Text(f, style="red") for f in self.failures))
        total = run.target
        done = run.finished_count
        elapsed = run.elapsed()
        width = 30
        filled = int(width * done / max(total, 1))
        rate = elapsed / done if done else None
        remaining = _clock(rate * (total - done)) if rate else "?"
        bar = Text.assemble(
            ("━" * filled, "green"), ("━" * (width - filled), "grey35"),
            f" {done}/{total} trials  elapsed {_clock(elapsed)}  remaining ~{remaining}",
        )
        parts: list = [header, bar]
        running = run.running
        if running:
            table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
            table.add_column("trial", justify="right")
            table.add_column("for", justify="right")
            table.add_column("last", justify="right")
            table.add_column("architecture", overflow="ellipsis", no_wrap=True)
            now = time.time()
            for record in running:
                last = record.intermediate[-1][1] if record.intermediate else None
                table.add_row(str(record.number), f"{now - (record.started_at or now):.0f}s",
                              fmt_metric(last), arch_text(record.arch, 70))
            parts.append(table)
        best = run.best
        if best is not None and run.spec.multi_objective:
            parts.append(Text.assemble(("Pareto front ", "bold"), f"{len(run.front)} trials; "
                                       f"best {run.spec.objective.metric}="
                                       f"{fmt_metric(best.metric)} (trial {best.number})"))
        elif best is not None:
            parts.append(Text.assemble(("best ", "bold"), f"{run.spec.objective.metric}="
                                       f"{fmt_metric(best.metric)} (trial {best.number}): ",
                                       arch_text(best.arch, 90)))
        for failure in self.failures:
            parts.append(Text(failure, style="red"))
        return Group(*parts)

    def trial_started(self, run: Run, record: TrialRecord) -> None:
        pass

    def trial_retried(self, run: Run, record: TrialRecord) -> None:
        self.failures.append(retry_line(run, record))

    def phase_started(self, run: Run, phase: str) -> None:
        pass  # the display shows the current phase

    def supernet_epoch(self, run: Run, metrics: dict[str, float]) -> None:
        self.epoch = _epoch_text(run, metrics)

    def trial_finished(self, run: Run, record: TrialRecord) -> None:
        if record.state is TrialState.FAILED:
            self.failures.append(f"trial {record.number} failed: {record.error}")

    def finished(self, run: Run) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()

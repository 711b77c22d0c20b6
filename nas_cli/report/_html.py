"""`nas report`: one self-contained HTML page about an experiment (plotly.js inline, so it opens
with no network): the objective per trial with the best so far, intermediate curves, parallel
coordinates of the choices, the top-K architectures, the failed trials and why. With several
objectives: the Pareto front (a scatter for two, a scatter matrix for more) and the hypervolume
over trials.

Reads results.json, and the space from study.db (read-only) to name the choices.
"""

from __future__ import annotations

import html
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from nas_cli._files import atomic_write_text
from nas_cli.durations import format_elapsed
from nas_cli.errors import NasError
from nas_cli.report._space import choice_names, read_space, value_key, value_text
from nas_cli.store import STUDY, ExperimentInfo
from nas_cli.trials import ExperimentStatus, TrialRecord, TrialState

NEEDS = "nas report needs plotly: pip install 'nas-cli[report]'"
_CONFIG = {"displaylogo": False, "responsive": True}
_PALETTE = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692",
            "#b6e880", "#ff97ff", "#fecb52"]
_OTHER = "rgba(120, 120, 120, 0.35)"


def write_report(info: ExperimentInfo, output: Path | None = None, top: int = 10) -> Path:
    """Write the report of `info` to `output` (default: `<exp>/report.html`); returns its path.

    >>> write_report(load_info(resolve(experiments_root(), None)))
    """
    path = Path(output) if output is not None else info.path / "report.html"
    atomic_write_text(path, report_html(info, top))
    return path


def report_html(info: ExperimentInfo, top: int = 10) -> str:
    """The report page of `info` as one HTML string."""
    try:
        import plotly.offline
    except ImportError:
        raise NasError(NEEDS) from None
    view = _View(info, top)
    pareto = []
    if view.multi:
        pareto = [
            _section("pareto", f"Pareto front ({len(view.front)} trials)", view.pareto()),
            _section("hypervolume", "Hypervolume over trials", view.hypervolume()),
        ]
    sections = [
        *pareto,
        _section("history", f"Objective per trial ({view.metric})", view.history()),
        _section("curves", "Intermediate results", view.curves()),
        *([_section("weights", "Architecture weights per label", view.arch_weights())]
          if info.results.oneshot and info.results.oneshot.derived is not None else []),
        _section("parallel", "Choices and the objective", view.parallel()),
        _section("top", f"Top {top} architectures", view.top_table()),
        _section("failed", "Failed trials", view.failed_table()),
    ]
    return _PAGE.format(
        title=html.escape(f"{info.name} ({info.id}): NAS report"),
        plotlyjs=plotly.offline.get_plotlyjs(),
        header=view.header(),
        sections="\n".join(sections),
    )


class _View:
    """What the page shows of one experiment, each part as HTML."""

    def __init__(self, info: ExperimentInfo, top: int):
        self.info = info
        self.top = top
        results = info.results
        self.metric, self.mode = results.objective.metric, results.objective.mode
        self.records = sorted(info.records, key=lambda r: r.number)
        self.ranks = {t.trial: t.rank for t in results.trials if t.rank is not None}
        self.complete = [r for r in self.records
                         if r.state is TrialState.COMPLETE and _finite(r.metric)]
        self.ranked = sorted((r for r in self.complete if r.number in self.ranks),
                             key=lambda r: self.ranks[r.number])
        self.objectives = info.objectives
        self.multi = len(self.objectives) > 1
        self.front = set(results.pareto_front or [])
        space = read_space(info.path / STUDY, info.id)
        self.names = choice_names(space)
        self.ranges = {label: d["distribution"] for label, d in
                       ((space or {}).get("labels") or {}).items() if d.get("distribution")}
        labels: list[str] = list(self.names)
        for record in self.records:
            labels += [label for label in record.arch if label not in labels]
        self.labels = labels
        # a simulated run's times are virtual seconds
        self.clock_note = " (virtual)" if results.clock == "virtual" else ""

    # --- text --------------------------------------------------------------------------------
    def choice(self, label: str, value: Any) -> str:
        return dict(self.names.get(label, [])).get(value_key(value), value_text(value))

    def arch_html(self, arch: dict[str, Any]) -> str:
        return " ".join(
            f'<span class="chip"><b>{html.escape(label)}</b> '
            f"{html.escape(self.choice(label, value))}</span>"
            for label, value in arch.items()
        )

    def arch_text(self, arch: dict[str, Any]) -> str:
        return "<br>".join(html.escape(f"{label}: {self.choice(label, value)}")
                           for label, value in arch.items())

    def header(self) -> str:
        results, info = self.info.results, self.info
        counts = Counter(r.state.value for r in self.records)
        shown = ", ".join(f"{n} {state.value}" for state in TrialState
                          if (n := counts.get(state.value, 0)))
        best = self.ranked[0] if self.ranked else None
        objectives = ", ".join(f"{o.metric} ({o.mode})" for o in self.objectives)
        facts = [
            ("status", info.status),
            ("objectives" if self.multi else "objective", objectives),
            ("trials", f"{len(self.records)}"
                       + (f" of {results.max_trial_number}" if results.max_trial_number else "")
                       + (f": {shown}" if shown else "")),
            ("Pareto front", f"{len(self.front)} trials") if self.multi else
            ("best", f"{_fmt(best.metric)} (trial {best.number})" if best else "-"),
            ("strategy", results.strategy or "-"),
            ("space", f"{results.space_size:,} architectures"
                      if results.space_size is not None else
                      "infinitely many architectures"
                      if "space_size" in results.model_fields_set else "-"),
            ("elapsed", format_elapsed(results.elapsed_s) + self.clock_note),
        ]
        if results.stop_reason:
            facts.append(("stopped because", results.stop_reason))
        rows = "".join(f"<div class=\"fact\"><span>{html.escape(k)}</span>"
                       f"<b>{html.escape(str(v))}</b></div>" for k, v in facts)
        created = results.created
        when = (time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
                if isinstance(created, int | float) else "?")
        live = (" The experiment is still running: run <code>nas report</code> again for "
                "newer results, or watch it live with <code>nas view</code>."
                if info.status is ExperimentStatus.RUNNING else "")
        return (
            f"<h1>{html.escape(info.name)}</h1>"
            f"<p class=\"sub\">experiment <code>{html.escape(info.id)}</code>, started {when}; "
            f"report written {time.strftime('%Y-%m-%d %H:%M')}.{live}</p>"
            f"<div class=\"facts status-{html.escape(info.status)}\">{rows}</div>"
        )

    # --- charts ------------------------------------------------------------------------------
    def history(self) -> str:
        if not self.complete:
            return _empty("No completed trial yet.")
        import plotly.graph_objects as go

        xs = [r.number for r in self.complete]
        ys = [_metric(r) for r in self.complete]
        best, running = [], None
        for y in ys:
            better = running is None or (y > running if self.mode == "maximize" else y < running)
            running = y if better else running
            best.append(running)
        fig = go.Figure()
        fig.add_scatter(
            x=xs, y=ys, mode="markers", name=self.metric,
            marker={"size": 9, "color": _PALETTE[0]},
            text=[self.arch_text(r.arch) for r in self.complete],
            hovertemplate="trial %{x}<br>" + html.escape(self.metric)
                          + " %{y:.4g}<br>%{text}<extra></extra>",
        )
        fig.add_scatter(x=xs, y=best, mode="lines", line_shape="hv", name="best so far",
                        line={"color": _PALETTE[1], "width": 2}, hoverinfo="skip")
        failed = [r for r in self.records if r.state is TrialState.FAILED]
        if failed:
            low = min(ys)
            fig.add_scatter(
                x=[r.number for r in failed], y=[low] * len(failed), mode="markers",
                name="failed", marker={"symbol": "x", "size": 9, "color": "#b0b0b0"},
                text=[html.escape(r.error or "failed") for r in failed],
                hovertemplate="trial %{x} failed<br>%{text}<extra></extra>",
            )
        fig.update_layout(xaxis_title="trial", yaxis_title=self.metric)
        return _figure(fig, "history")

    def pareto(self) -> str:
        """Every completed trial by its objective values; the front highlighted (a scatter
        for two objectives, a scatter matrix for more)."""
        done = [r for r in self.complete if r.values is not None]
        if not done:
            return _empty("No completed trial yet.")
        import plotly.graph_objects as go

        names = [f"{o.metric} ({o.mode[:3]})" for o in self.objectives]
        groups = [("other trials", [r for r in done if r.number not in self.front], _OTHER),
                  ("Pareto front", [r for r in done if r.number in self.front], _PALETTE[1])]
        fig = go.Figure()
        if len(names) == 2:
            for name, rows, color in groups:
                rows = sorted(rows, key=lambda r: _values(r)[0])
                front = name == "Pareto front"
                fig.add_scatter(
                    x=[_values(r)[0] for r in rows], y=[_values(r)[1] for r in rows], name=name,
                    mode="lines+markers" if front else "markers", line_shape="hv",
                    marker={"size": 10 if front else 8, "color": color},
                    line={"color": color, "width": 1, "dash": "dot"},
                    text=[f"trial {r.number}<br>{self.arch_text(r.arch)}" for r in rows],
                    hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>")
            fig.update_layout(xaxis_title=names[0], yaxis_title=names[1])
            return _figure(fig, "pareto", height=420)
        for name, rows, color in groups:
            fig.add_trace(go.Splom(
                dimensions=[{"label": label, "values": [_values(r)[k] for r in rows]}
                            for k, label in enumerate(names)],
                name=name, marker={"size": 7, "color": color}, diagonal_visible=False,
                text=[f"trial {r.number}<br>{self.arch_text(r.arch)}" for r in rows],
                hovertemplate="%{text}<extra></extra>"))
        return _figure(fig, "pareto", height=200 + 170 * len(names))

    def hypervolume(self) -> str:
        """The hypervolume of the front of the trials up to each trial. Each objective is
        scaled to [0, 1] over the completed trials (1: the best value seen, 0: the worst);
        the reference point is 0.1 below the worst in each, so the most is 1.1 ** k."""
        from nas_cli.pareto import hypervolume_history, oriented

        done = [r for r in self.complete if r.values is not None]
        if not done:
            return _empty("No completed trial yet.")
        import plotly.graph_objects as go

        modes = [o.mode for o in self.objectives]
        points = [oriented(_values(r), modes) for r in done]
        low = [min(p[k] for p in points) for k in range(len(modes))]
        high = [max(p[k] for p in points) for k in range(len(modes))]
        unit = [tuple((v - lo) / (hi - lo) if hi > lo else 1.0 for v, lo, hi in zip(p, low, high))
                for p in points]
        at = sorted({max(1, round(len(unit) * i / 300)) for i in range(1, 301)})
        volumes = hypervolume_history(unit, [-0.1] * len(modes), at)
        fig = go.Figure()
        fig.add_scatter(x=[done[n - 1].number for n in at], y=volumes, mode="lines+markers",
                        line_shape="hv", name="hypervolume", marker={"size": 5},
                        line={"color": _PALETTE[0], "width": 2},
                        hovertemplate="after trial %{x}: %{y:.4g}<extra></extra>")
        fig.update_layout(xaxis_title="trial", yaxis_title="hypervolume (normalized objectives)")
        note = ("<p class=\"sub\">Each objective scaled to [0, 1] over the completed trials "
                "(1: the best value seen); reference point 0.1 below the worst in each, so the "
                f"largest possible value is {1.1 ** len(modes):.3g}.</p>")
        return note + _figure(fig, "hypervolume")

    def curves(self) -> str:
        curves = [r for r in self.records if r.intermediate]
        if not curves:
            return _empty("No trial reported intermediate results "
                          "(nas_cli.report_intermediate_result).")
        import plotly.graph_objects as go

        best = {r.number: i for i, r in enumerate(self.ranked[: self.top])}
        fig = go.Figure()
        for record in sorted((r for r in curves if r.number in best), key=lambda r: best[r.number]):
            rank = best[record.number]
            steps, values = zip(*record.intermediate)
            fig.add_scatter(
                x=steps, y=values, mode="lines+markers", name=f"trial {record.number} (#{rank + 1})",
                line={"color": _PALETTE[rank % len(_PALETTE)], "width": 2}, marker={"size": 4},
                hovertemplate=f"trial {record.number} (#{rank + 1})<br>step %{{x}}: "
                              "%{y:.4g}<extra></extra>",
            )
        # the others share one trace per kind (gaps between trials): fast with many trials
        for name, dash, group in (
            ("other trials", "solid", [r for r in curves if r.number not in best
                                       and r.state is TrialState.COMPLETE]),
            ("failed or stopped", "dot", [r for r in curves if r.state is not TrialState.COMPLETE]),
        ):
            xs: list[Any] = []
            ys: list[Any] = []
            text: list[Any] = []
            for record in group:
                for step, value in record.intermediate:
                    xs.append(step)
                    ys.append(value)
                    text.append(f"trial {record.number} ({record.state.value})")
                xs.append(None)
                ys.append(None)
                text.append(None)
            if group:
                fig.add_scatter(
                    x=xs, y=ys, text=text, mode="lines+markers", name=name,
                    line={"color": _OTHER, "width": 1, "dash": dash}, marker={"size": 3},
                    hovertemplate="%{text}<br>step %{x}: %{y:.4g}<extra></extra>",
                )
        fig.update_layout(xaxis_title="step", yaxis_title="reported value")
        if max(step for r in curves for step, _ in r.intermediate) <= 20:
            fig.update_xaxes(dtick=1)
        return _figure(fig, "curves")

    def arch_weights(self) -> str:
        """A one-shot method's learned probabilities of each label's candidates over the
        supernet's epochs (one label at a time, chosen from a menu)."""
        from nas_cli.oneshot import SUPERNET_DIR, read_progress

        epochs = read_progress(self.info.path / SUPERNET_DIR).get("arch_weights") or []
        if not epochs:
            return _empty("The supernet has not finished an epoch yet.")
        import plotly.graph_objects as go

        oneshot = self.info.results.oneshot
        derived = (oneshot.derived if oneshot else None) or {}
        labels = list(epochs[-1]["probs"])
        fig = go.Figure()
        spans = []
        for label in labels:
            names = [name for _, name in self.names.get(label, [])]
            start = len(fig.data)
            count = len(epochs[-1]["probs"][label])
            for i in range(count):
                fig.add_scatter(
                    x=[e["epoch"] for e in epochs], y=[e["probs"][label][i] for e in epochs],
                    mode="lines+markers", visible=label == labels[0],
                    name=_short(names[i] if i < len(names) else str(i)),
                    line={"color": _PALETTE[i % len(_PALETTE)], "width": 2}, marker={"size": 4},
                    hovertemplate=f"{html.escape(label)}: "
                                  f"{html.escape(names[i] if i < len(names) else str(i))}"
                                  "<br>epoch %{x}: %{y:.3f}<extra></extra>")
            spans.append((label, start, start + count))
        total = len(fig.data)

        def title(label: str) -> str:
            chosen = self.choice(label, derived[label]) if label in derived else "inactive"
            return f"{label} (derived: {chosen})"

        buttons = [{"label": label, "method": "update",
                    "args": [{"visible": [start <= j < end for j in range(total)]},
                             {"title": {"text": title(label)}}]}
                   for label, start, end in spans]
        fig.update_layout(
            title={"text": title(labels[0])}, xaxis_title="supernet epoch",
            yaxis_title="probability", yaxis_range=[0, 1],
            updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right",
                          "y": 1.18, "yanchor": "top", "showactive": True}])
        if len(epochs) <= 20:
            fig.update_xaxes(dtick=1)
        return _figure(fig, "weights", margin={"t": 80})

    def parallel(self) -> str:
        if not self.complete or not self.labels:
            return _empty("No completed trial yet.")
        import plotly.graph_objects as go

        dimensions = []
        for label in self.labels:
            if label in self.ranges:  # a continuous range: a numeric axis (log10 for a log one)
                dimensions.append(self._range_axis(label))
                continue
            pairs = self.names.get(label) or self._observed(label)
            index = {key: i for i, (key, _) in enumerate(pairs)}
            ticks = [_short(name) for _, name in pairs]
            values = []
            for record in self.complete:
                if label in record.arch:
                    key = value_key(record.arch[label])
                    if key not in index:
                        index[key] = len(ticks)
                        ticks.append(_short(value_text(record.arch[label])))
                    values.append(index[key])
                else:
                    values.append(-1)
            if -1 in values:  # a decision that only some architectures take
                values = [len(ticks) if v == -1 else v for v in values]
                ticks.append("(inactive)")
            top = max(len(ticks) - 1, 1)
            dimensions.append({"label": label, "values": values, "range": [0, top],
                               "tickvals": list(range(len(ticks))), "ticktext": ticks})
        ys = [r.metric for r in self.complete]
        dimensions.append({"label": self.metric, "values": ys})
        fig = go.Figure(go.Parcoords(
            dimensions=dimensions,
            line={"color": ys, "colorscale": "Viridis", "showscale": True,
                  "reversescale": self.mode == "minimize",
                  "colorbar": {"title": {"text": self.metric}}},
        ))
        return _figure(fig, "parallel", height=420, margin={"l": 60, "r": 40, "t": 60, "b": 30})

    def _range_axis(self, label: str) -> dict[str, Any]:
        log = bool(self.ranges[label].get("log"))
        values: list[float | None] = []
        for record in self.complete:
            value = record.arch.get(label)
            if isinstance(value, int | float) and (value > 0 or not log):
                values.append(math.log10(value) if log else value)
            else:
                values.append(None)
        return {"label": f"log10 {label}" if log else label, "values": values}

    def _observed(self, label: str) -> list[tuple[Any, str]]:
        """Candidates seen in the trials, when the space is not available."""
        seen = {value_key(r.arch[label]): value_text(r.arch[label])
                for r in self.records if label in r.arch}
        return sorted(seen.items(), key=lambda kv: (not isinstance(kv[0], int | float),
                                                    kv[0] if isinstance(kv[0], int | float)
                                                    else str(kv[0])))

    # --- tables ------------------------------------------------------------------------------
    def top_table(self) -> str:
        rows = self.ranked[: self.top]
        if not rows:
            return _empty("No completed trial yet.")
        extra = []
        for record in rows:
            extra += [m for m in record.metrics
                      if m not in (self.metric, "params") and m not in extra]
        extra = extra[:4]
        head = ["rank", "trial", self.metric, *extra, "params", "time" + self.clock_note,
                "architecture"]
        body = []
        for record in rows:
            cells = [str(self.ranks[record.number]), str(record.number), _fmt(record.metric),
                     *(_fmt(record.metrics.get(m)) for m in extra),
                     f"{record.params:,}" if record.params is not None else "-",
                     format_elapsed(record.duration_s)]
            body.append("<tr>" + "".join(f"<td class=\"num\">{html.escape(c)}</td>" for c in cells)
                        + f"<td>{self.arch_html(record.arch)}</td></tr>")
        return _table(head, body, "top-table")

    def failed_table(self) -> str:
        rows = [r for r in self.records if r.state in
                (TrialState.FAILED, TrialState.PRUNED, TrialState.INTERRUPTED)]
        if not rows:
            return _empty("No trial failed.")
        body = [
            f"<tr><td class=\"num\">{r.number}</td><td>{html.escape(r.state.value)}</td>"
            f"<td class=\"error\">{html.escape(r.error or '(no reason recorded)')}</td>"
            f"<td>{self.arch_html(r.arch)}</td></tr>"
            for r in rows
        ]
        return _table(["trial", "status", "reason", "architecture"], body, "failed-table")


def _figure(fig: Any, name: str, height: int = 380, margin: dict | None = None) -> str:
    import plotly.io

    fig.update_layout(template="plotly_white", height=height, margin=margin or {"t": 50},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0})
    return plotly.io.to_html(fig, include_plotlyjs=False, full_html=False, config=_CONFIG,
                             div_id=f"fig-{name}", default_height=f"{height}px")


def _section(anchor: str, title: str, body: str) -> str:
    return f"<section id=\"{anchor}\"><h2>{html.escape(title)}</h2>{body}</section>"


def _table(head: list[str], rows: list[str], css: str) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (f"<table class=\"{css}\"><thead><tr>{cells}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _empty(text: str) -> str:
    return f"<p class=\"empty\">{html.escape(text)}</p>"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _metric(record: TrialRecord) -> float:
    """A listed complete trial's metric (the page lists only those that have one)."""
    return math.nan if record.metric is None else record.metric


def _values(record: TrialRecord) -> list[float]:
    """A listed complete trial's objective values (several objectives)."""
    return record.values or []


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _short(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; }}
h1 {{ margin: 8px 0 0; font-size: 26px; }}
h2 {{ font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #e5e5e5; padding-bottom: 4px; }}
.sub {{ color: #666; margin: 4px 0 12px; }}
code {{ background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }}
.facts {{ display: flex; flex-wrap: wrap; gap: 8px; }}
.fact {{ background: #f6f7fb; border-radius: 6px; padding: 6px 10px; }}
.fact span {{ color: #666; margin-right: 6px; }}
.status-done .fact:first-child b {{ color: #1a7f37; }}
.status-failed .fact:first-child b, .status-interrupted .fact:first-child b {{ color: #c62828; }}
.status-running .fact:first-child b {{ color: #1565c0; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 5px 8px; border-bottom: 1px solid #eee; vertical-align: top; }}
th {{ background: #fafafa; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
td.error {{ color: #c62828; font-family: ui-monospace, monospace; font-size: 13px; }}
.chip {{ display: inline-block; background: #eef1fb; border-radius: 4px; padding: 0 6px;
        margin: 1px 2px; font-size: 13px; white-space: nowrap; }}
.chip b {{ color: #3949ab; font-weight: 600; margin-right: 3px; }}
.empty {{ color: #777; font-style: italic; }}
</style>
<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
<script>{plotlyjs}</script>
</head>
<body>
<header>{header}</header>
{sections}
</body>
</html>
"""

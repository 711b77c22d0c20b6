"""`nas export`: the K best architectures as dicts, JSON, or runnable code."""

from __future__ import annotations

import json
from typing import Any

from nas_cli.store import ExperimentInfo
from nas_cli.trials import TrialRecord, TrialState

FORMATS = ("dict", "json", "code")


def top_trials(info: ExperimentInfo, k: int) -> list[TrialRecord]:
    """Completed trials, best first (results.json's ranking)."""
    records = info.records
    ranks = {r.number: t.get("rank") for r, t in zip(records, info.data.get("trials", []))}
    ranked = [r for r in records if r.state is TrialState.COMPLETE and ranks.get(r.number)]
    ranked.sort(key=lambda r: ranks[r.number])
    return ranked[:k]


def _code(info: ExperimentInfo, record: TrialRecord, spec: dict[str, Any]) -> str:
    space = spec.get("model_space", {})
    module, cls = space.get("module", "?"), space.get("class", "?")
    spec_dir = info.data.get("spec_dir", ".")
    kwargs = space.get("init_kwargs") or {}
    mutators = space.get("mutators") or []
    lines = [
        f"# trial {record.number}: {info.data.get('objective', {}).get('metric')} = {record.metric}",
        "from nas_cli import freeze",
        "from nas_cli.experiment import load_attr",
        "from pathlib import Path",
        "",
        f"{cls} = load_attr({module + ':' + cls!r}, Path({spec_dir!r}), 'model')",
    ]
    if mutators:
        lines.append(f"mutators = [load_attr(m, Path({spec_dir!r}), 'mutator')() "
                     f"for m in {mutators!r}]")
    call_kwargs = ", mutators=mutators" if mutators else ""
    for key, value in kwargs.items():
        call_kwargs += f", {key}={value!r}"
    lines.append(f"model = freeze({cls}, {record.arch!r}{call_kwargs})")
    return "\n".join(lines) + "\n"


def export_text(info: ExperimentInfo, k: int, fmt: str, spec: dict[str, Any] | None = None) -> str:
    """`dict`: one Python dict per line; `json`: one JSON array; `code`: a snippet each."""
    records = top_trials(info, k)
    if fmt == "dict":
        return "".join(f"{r.arch!r}\n" for r in records)
    if fmt == "json":
        return json.dumps([r.arch for r in records], indent=2) + "\n"
    if fmt == "code":
        return "\n".join(_code(info, r, spec or {}) for r in records)
    raise ValueError(fmt)

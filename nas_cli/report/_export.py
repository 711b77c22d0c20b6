"""`nas export`: the K best architectures as dicts, JSON, or runnable code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nas_cli.store import ExperimentInfo
from nas_cli.trials import INHERITED_PHASE, TrialRecord, TrialState, split_arch

FORMATS = ("dict", "json", "code", "model")


def top_trials(info: ExperimentInfo, k: int) -> list[TrialRecord]:
    """Completed trials, best first (results.json's ranking)."""
    records = info.records
    ranks = {t.trial: t.rank for t in info.results.trials}
    ranked = [r for r in records if r.state is TrialState.COMPLETE and ranks.get(r.number)]
    ranked.sort(key=lambda r: ranks[r.number] or 0)
    return ranked[:k]


def front_trials(info: ExperimentInfo) -> list[TrialRecord]:
    """The Pareto front (several objectives), by the first objective, best first; with one
    objective, the best trial(s)."""
    front = set(info.results.pareto_front or [])
    if not front:
        return top_trials(info, 1)
    records = [r for r in info.records if r.number in front]
    mode = info.objectives[0].mode
    records.sort(key=lambda r: (-(r.metric or 0) if mode == "maximize" else (r.metric or 0),
                                r.number))
    return records


def values_of(info: ExperimentInfo, record: TrialRecord) -> dict[str, float | None]:
    """{metric: value} of a trial's objectives."""
    values = record.values if record.values is not None else [record.metric]
    return {o.metric: v for o, v in zip(info.objectives, values)}


def _import(ref: str, spec_dir: str) -> tuple[list[str], str]:
    """The lines that import `module:name` as the user's own code would, and the name: a
    dotted module as it is; a .py file from its folder (from its package's folder when it
    lies in a package), which the first line puts on the path. A file whose name is not a
    Python identifier falls back to loading it by path."""
    module, _, name = ref.rpartition(":")
    if not module.endswith(".py") and "/" not in module:
        return [f"from {module} import {name}"], name
    path = (Path(spec_dir) / module).resolve()
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if all(part.isidentifier() for part in parts):
        return [f"sys.path.insert(0, {str(folder)!r})  # where {path.name} is; drop the line "
                "where it is importable", f"from {'.'.join(parts)} import {name}"], name
    return ["from nas_cli.experiment import load_attr",
            f"{name} = load_attr({str(path) + ':' + name!r}, Path('.'), {name!r})"], name


def _code(info: ExperimentInfo, record: TrialRecord, spec: dict[str, Any]) -> str:
    space = spec.get("model_space", {})
    module, cls = space.get("module", "?"), space.get("class", "?")
    spec_dir = info.results.spec_dir or "."
    kwargs = space.get("init_kwargs") or {}
    imports, _ = _import(f"{module}:{cls}", spec_dir)
    mutators = []
    for ref in space.get("mutators") or []:
        lines, name = _import(ref, spec_dir)
        imports += [line for line in lines if line not in imports]
        mutators.append(name)
    header = ["import sys"] if any(line.startswith("sys.") for line in imports) else []
    if any("Path(" in line for line in imports):
        header.append("from pathlib import Path")
    lines = [
        f"# trial {record.number}: {info.results.objective.metric} = {record.metric}",
        *header,
        "from nas_cli import freeze",
        *imports,
        "",
    ]
    call_kwargs = ""
    if mutators:  # a class is instantiated, an instance used as it is (as `nas run` does)
        lines.append(f"mutators = [m() if isinstance(m, type) else m for m in "
                     f"[{', '.join(mutators)}]]")
        call_kwargs = ", mutators=mutators"
    for key, value in kwargs.items():
        call_kwargs += f", {key}={value!r}"
    arch, hparams = split_arch(record.arch)
    lines.append(f"model = freeze({cls}, {arch!r}{call_kwargs})")
    if hparams:
        lines.append(f"hyperparameters = {hparams!r}  # the evaluator's searched values")
    return "\n".join(lines) + "\n"


def export_text(info: ExperimentInfo, k: int, fmt: str, spec: dict[str, Any] | None = None,
                pareto: bool = False) -> str:
    """`dict`: one Python dict per line (searched hyperparameters as `hp/<name>` labels, so
    the line is also what `nas trial --arch` takes); `json`: one JSON array; `code`: a snippet
    each. `pareto`: the Pareto front instead of the K best, and `json` gives one object per
    trial: its number, architecture, hyperparameters and objective values."""
    records = front_trials(info) if pareto else top_trials(info, k)
    if fmt == "dict":
        return "".join(f"{r.arch!r}\n" for r in records)
    if fmt == "json" and pareto:
        entries = []
        for record in records:
            arch, hparams = split_arch(record.arch)
            entries.append({"trial": record.number, "arch": arch, "hparams": hparams,
                            "values": values_of(info, record)})
        return json.dumps(entries, indent=2) + "\n"
    if fmt == "json":
        return json.dumps([r.arch for r in records], indent=2) + "\n"
    if fmt == "code":
        return "\n".join(_code(info, r, spec or {}) for r in records)
    raise ValueError(fmt)


def export_models(info: ExperimentInfo, k: int, folder: Path,
                  spec: dict[str, Any] | None = None, pareto: bool = False) -> list[Path]:
    """`--format model`: for each of the K best trials, `folder/trial_<n>/` with the trained
    weights (`model.pt`, a state dict kept by `keep_checkpoints`), `arch.json` and `load.py`
    (builds the frozen model and loads the weights). Copies files; imports no torch, except
    for one-shot search trials, whose weights are sliced out of the supernet."""
    import shutil

    from nas_cli._files import atomic_write_json, atomic_write_text
    from nas_cli.errors import UsageError

    records = front_trials(info) if pareto else top_trials(info, k)
    kept = {r.number: info.path / "trials" / str(r.number) / "model.pt" for r in records}
    missing = [r.number for r in records
               if not kept[r.number].is_file() and r.phase != INHERITED_PHASE]
    if missing:
        raise UsageError(f"trials {missing} of {info.id} kept no weights: run with "
                         "evaluator.keep_checkpoints: best (or all) to export models")
    inherited = None
    written = []
    for record in records:
        target = folder / f"trial_{record.number}"
        target.mkdir(parents=True, exist_ok=True)
        if kept[record.number].is_file():
            shutil.copyfile(kept[record.number], target / "model.pt")
        else:  # a one-shot search trial: the weights it inherits from the supernet
            from nas_cli.oneshot import InheritedWeights

            inherited = inherited or InheritedWeights(info.path)
            inherited.save(record.arch, target / "model.pt")
        arch, hparams = split_arch(record.arch)
        atomic_write_json(target / "arch.json", arch)
        if hparams:
            atomic_write_json(target / "hparams.json", hparams)
        loader = _code(info, record, spec or {}) + (
            "import torch\n"
            "from pathlib import Path as _Path\n"
            "model.load_state_dict(torch.load(_Path(__file__).with_name('model.pt'), "
            "map_location='cpu'))\n"
            "model.eval()\n")
        atomic_write_text(target / "load.py", loader)
        written.append(target)
    return written

"""`nas trial SPEC --arch JSON_OR_FILE`: one architecture, trained here, with normal output."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import err, fmt_metric, out


def _parse_arch(text: str) -> dict:
    from nas_cli.errors import UsageError

    source = text
    path = Path(text)
    if not text.lstrip().startswith(("{", "[")):  # JSON text, or else a file holding it
        try:
            source = path.read_text()
        except OSError as exc:
            raise UsageError(f"--arch: not a JSON object and not a readable file: {text} "
                             f"({exc.strerror})") from None
    try:
        arch = json.loads(source)
    except ValueError as exc:
        arch = _python_dict(source)  # a line of `nas export --format dict` works too
        if arch is None:
            raise UsageError(f"--arch: invalid JSON ({exc})") from None
    if not isinstance(arch, dict):
        raise UsageError("--arch: an architecture is a JSON object {label: value}")
    return arch


def _python_dict(text: str) -> dict | None:
    import ast

    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def trial(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The experiment spec (YAML).")],
    arch: Annotated[str, typer.Option("--arch", help="Architecture: JSON text or a JSON file.")],
    output: Annotated[Optional[Path], typer.Option("--output", help="Folder for the trial's files.")] = None,
    allow_unknown_labels: Annotated[bool, typer.Option(
        "--allow-unknown-labels",
        help="Drop (with a warning) labels the space does not have instead of refusing the arch.")] = False,
) -> None:
    """Train and evaluate one architecture in this process (for debugging a space or evaluator).

    The architecture may be one NNI wrote (its automatic labels `model_3`, indices as strings).
    """
    from nas_cli.errors import ArchError, TrialError, UsageError
    from nas_cli.execution import execute
    from nas_cli.experiment import build_payload
    from nas_cli.space import UnknownLabelsWarning
    from nas_cli.spec import load_spec

    experiment_spec = load_spec(spec)
    payload, found = build_payload(experiment_spec)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnknownLabelsWarning)
            canonical = found.validate(_parse_arch(arch), allow_unknown=allow_unknown_labels)
    except ArchError as exc:
        only_unknown = "unknown label" in exc.message and "missing label" not in exc.message
        hint = "; pass --allow-unknown-labels to ignore them" if only_unknown else ""
        raise UsageError(f"--arch: {exc.message}{hint}") from None
    for warning in caught:
        err.print(f"warning: {warning.message}", markup=False)
    out.print(f"trial of {experiment_spec.model_space.class_name}: {json.dumps(canonical)}",
              markup=False)
    metric = experiment_spec.objective.metric

    def report(step: int, value: float) -> None:
        out.print(f"  step {step}: {metric}={fmt_metric(value)}", markup=False)

    if output is not None:
        if output.exists() and not output.is_dir():
            raise UsageError(f"--output {output} is a file; name a folder")
        output.mkdir(parents=True, exist_ok=True)
    result = execute(payload, 0, canonical, output, report, log=False)
    if result.failed:
        sys.stderr.write(result.traceback or "")
        raise TrialError(f"trial failed: {result.error}")
    params = "-" if result.params is None else f"{result.params:,}"
    out.print(f"{metric}={fmt_metric(result.metrics.get(metric))}  params={params}  "
              f"time={result.duration_s:.1f}s", markup=False)
    out.print(f"metrics: {json.dumps(result.metrics)}", markup=False)

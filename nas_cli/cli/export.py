"""`nas export [EXP] --top K --format dict|json|code|model [--output FILE_OR_DIR]`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import out


class Format(str, Enum):
    dict = "dict"
    json = "json"
    code = "code"
    model = "model"


def export(
    experiment: Annotated[Optional[str], typer.Argument(metavar="EXP", help="Experiment id, prefix or name (default: the latest).")] = None,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many architectures.")] = 5,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="dict, json, code, or model (weights + arch + loader, into --output DIR).")] = Format.dict,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file.")] = None,
    pareto: Annotated[bool, typer.Option("--pareto", help="The Pareto front (several objectives) instead of the K best.")] = False,
    exp_dir: Annotated[Optional[Path], typer.Option("--exp-dir")] = None,
) -> None:
    """The K best architectures of an experiment, best first (or its Pareto front)."""
    import yaml

    from nas_cli._files import atomic_write_text
    from nas_cli.errors import UsageError
    from nas_cli.report import export_text
    from nas_cli.store import SPEC, experiments_root, load_info, resolve

    info = load_info(resolve(experiments_root(exp_dir), experiment))
    if pareto and len(info.objectives) < 2:
        raise UsageError(f"--pareto: experiment {info.id} has one objective "
                         f"({info.objectives[0].metric}); "
                         "use --top K")
    spec = None
    if fmt in (Format.code, Format.model):
        try:
            spec = yaml.safe_load((info.path / SPEC).read_text())
        except (OSError, yaml.YAMLError):
            spec = {}
    if fmt is Format.model:
        from nas_cli.report import export_models

        folder = output or Path(f"{info.id}-models")
        written = export_models(info, top, folder, spec, pareto=pareto)
        if not written:
            raise UsageError(f"experiment {info.id} has no completed trial yet")
        out.print(f"wrote {len(written)} models to {folder}: "
                  f"{', '.join(p.name for p in written)}", markup=False)
        return
    text = export_text(info, top, fmt.value, spec, pareto=pareto)
    if not text.strip() or text.strip() == "[]":
        if output is None and fmt is not Format.json:
            raise UsageError(f"experiment {info.id} has no completed trial yet")
    if output is not None:
        if output.is_dir():
            raise UsageError(f"--output {output} is a folder; name a file")
        atomic_write_text(output, text)
        out.print(f"wrote {len(text.splitlines())} lines to {output}", markup=False)
    else:
        out.file.write(text)

"""Running experiments: create, execute, resume; importing what a spec names.

Names are imported on first use: a worker that builds its payload from a spec imports only
`_load` (no store, no pydantic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_cli._lazy import lazy_getattr

if TYPE_CHECKING:  # what type checkers and the API docs read; at run time, see _LAZY
    from nas_cli.experiment._load import (
        build_payload,
        load_attr,
        load_evaluator,
        load_space,
        prepare_run,
    )
    from nas_cli.experiment._run import (
        Listener,
        Run,
        create_experiment,
        execute,
        open_experiment,
        resume_experiment,
    )

_LAZY = {
    "build_payload": "nas_cli.experiment._load",
    "load_attr": "nas_cli.experiment._load",
    "load_evaluator": "nas_cli.experiment._load",
    "load_space": "nas_cli.experiment._load",
    "prepare_run": "nas_cli.experiment._load",
    "Listener": "nas_cli.experiment._run",
    "Run": "nas_cli.experiment._run",
    "create_experiment": "nas_cli.experiment._run",
    "execute": "nas_cli.experiment._run",
    "open_experiment": "nas_cli.experiment._run",
    "resume_experiment": "nas_cli.experiment._run",
}

__all__ = ["Listener", "Run", "build_payload", "create_experiment", "execute", "load_attr",
           "load_evaluator", "load_space", "open_experiment", "prepare_run",
           "resume_experiment"]

__getattr__ = lazy_getattr(__name__, _LAZY)

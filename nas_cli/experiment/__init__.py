"""Running experiments: create, execute, resume; importing what a spec names.

Names are imported on first use: a worker that builds its payload from a spec imports only
`_load` (no store, no pydantic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_cli._lazy import lazy_getattr

if TYPE_CHECKING:  # what type checkers and the API docs read; at run time, see _LAZY
    from nas_cli.experiment._constraints import Constraints, feasible_share
    from nas_cli.experiment._load import (
        build_payload,
        discover,
        load_attr,
        load_evaluator,
        load_space,
        pickle_payload,
        prepare_run,
        with_hyperparameters,
    )
    from nas_cli.experiment._run import (
        Listener,
        Run,
        create_experiment,
        execute,
        open_experiment,
        resume_experiment,
        run_trials,
        save_results,
        stop_file,
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
    # what `nas space` and one-shot search (its phases run on this engine) use
    "Constraints": "nas_cli.experiment._constraints",
    "feasible_share": "nas_cli.experiment._constraints",
    "discover": "nas_cli.experiment._load",
    "pickle_payload": "nas_cli.experiment._load",
    "with_hyperparameters": "nas_cli.experiment._load",
    "run_trials": "nas_cli.experiment._run",
    "save_results": "nas_cli.experiment._run",
    "stop_file": "nas_cli.experiment._run",
}

__all__ = ["Constraints", "Listener", "Run", "build_payload", "create_experiment", "discover",
           "execute", "feasible_share", "load_attr", "load_evaluator", "load_space",
           "open_experiment", "pickle_payload", "prepare_run", "resume_experiment", "run_trials",
           "save_results", "stop_file", "with_hyperparameters"]

__getattr__ = lazy_getattr(__name__, _LAZY)

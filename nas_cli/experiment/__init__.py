"""Running experiments: create, execute, resume; importing what a spec names."""

from nas_cli.experiment._load import build_payload, load_attr, load_evaluator, load_space
from nas_cli.experiment._run import (
           Listener,
           Run,
           create_experiment,
           execute,
           open_experiment,
           resume_experiment,
)

__all__ = ["Listener", "Run", "build_payload", "create_experiment", "execute", "load_attr",
           "load_evaluator", "load_space", "open_experiment",
           "resume_experiment"]

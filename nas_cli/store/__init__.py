"""Where trials are kept: the experiment folder, its Optuna study and its results.json."""

from nas_cli.store._experiments import (
    PID,
    RESULTS,
    SPEC,
    STOP,
    STUDY,
    ExperimentInfo,
    check_name,
    driver_alive,
    experiments_root,
    list_experiments,
    load_info,
    new_experiment_id,
    read_results,
    resolve,
    study_meta,
    write_results,
)

__all__ = [
    "PID", "RESULTS", "SPEC", "STOP", "STUDY", "ExperimentInfo", "TrialStore", "check_name",
    "driver_alive", "experiments_root", "list_experiments", "load_info", "new_experiment_id",
    "read_results", "resolve", "study_meta", "write_results",
]


def __getattr__(name: str):
    if name == "TrialStore":  # imports optuna: only for writers and `nas resume`
        from nas_cli.store._study import TrialStore

        return TrialStore
    raise AttributeError(name)

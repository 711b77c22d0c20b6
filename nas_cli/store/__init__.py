"""Where trials are kept: the experiment folder, its Optuna study and its results.json.

The layout of what nas-cli writes is defined here once: `Results` (results.json),
`StudyMeta` and `TrialDetails` (nas-cli's attributes in the Optuna study).
"""

from nas_cli.store._attrs import TRIAL_ATTR, StudyMeta, TrialDetails
from nas_cli.store._experiments import (
    PID,
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
    resolve,
    study_meta,
)
from nas_cli.store._results import (
    RESULTS,
    Objective,
    OneShotSection,
    Results,
    SupernetSection,
    TrialEntry,
    read_results,
    write_results,
)

__all__ = [
    "PID", "RESULTS", "SPEC", "STOP", "STUDY", "TRIAL_ATTR", "ExperimentInfo", "Objective",
    "OneShotSection", "Results", "StudyMeta", "SupernetSection", "TrialDetails", "TrialEntry", "TrialStore",
    "check_name", "driver_alive", "experiments_root", "list_experiments", "load_info",
    "new_experiment_id", "read_results", "resolve", "study_meta", "write_results",
]


def __getattr__(name: str):
    if name == "TrialStore":  # imports optuna: only for writers and `nas resume`
        from nas_cli.store._study import TrialStore

        return TrialStore
    raise AttributeError(name)

"""The trial store: one Optuna study in `<exp>/study.db` (Optuna's RDB storage on SQLite).

Architecture decisions are categorical params (values that are not plain scalars are stored
as their JSON text); the search space, spec and status live in the study's user attrs so any
reader can decode trials without importing user code. Only the driver writes.
"""

from __future__ import annotations

import datetime
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from nas_cli.errors import StoreError
from nas_cli.trials import TrialRecord, TrialState

_OPTUNA_STATE = {
    TrialState.WAITING: "WAITING", TrialState.RUNNING: "RUNNING",
    TrialState.COMPLETE: "COMPLETE", TrialState.PRUNED: "PRUNED",
    TrialState.FAILED: "FAIL", TrialState.INTERRUPTED: "FAIL",
}
_RECORD_ATTR = "nas"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def param_choices(candidates: list[Any]) -> tuple[Any, ...]:
    """Optuna categorical choices for a decision's candidates (readable where possible)."""
    return tuple(c if _scalar(c) else json.dumps(c) for c in candidates)


def _enable_wal(path: Path) -> None:
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


class TrialStore:
    """Writes and reads one experiment's trials in its Optuna study."""

    def __init__(self, path: Path, *, study_name: str, direction: str | None = None,
                 create: bool = False):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.path = Path(path)
        if create:
            _enable_wal(self.path)
        elif not self.path.exists():
            raise StoreError(f"{self.path} not found: the experiment has no trial store")
        try:
            self.storage = optuna.storages.RDBStorage(
                f"sqlite:///{self.path}", engine_kwargs={"connect_args": {"timeout": 30}},
            )
            if create:
                self.study = optuna.create_study(
                    storage=self.storage, study_name=study_name, direction=direction,
                )
            else:
                self.study = optuna.load_study(storage=self.storage, study_name=study_name)
        except Exception as exc:  # noqa: BLE001 - sqlalchemy/optuna raise many kinds
            raise StoreError(
                f"{self.path} is not a readable trial store ({type(exc).__name__}: {exc}); "
                "start a new experiment or restore the file"
            ) from None
        self.study_id = self.study._study_id
        self._trial_ids: dict[int, int] = {}
        self._choices: dict[str, tuple[Any, ...]] = {}

    # --- study-level metadata ----------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.storage.set_study_user_attr(self.study_id, key, value)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self.storage.get_study_user_attrs(self.study_id).get(key, default)

    def set_space(self, space_json: dict[str, Any]) -> None:
        """Stores the discovered space; it defines how params are encoded."""
        self.set_meta("nas:space", space_json)
        self._choices = {k: param_choices(v["candidates"]) for k, v in space_json["labels"].items()}

    # --- trials ------------------------------------------------------------------------------
    def start_trial(self, arch: dict[str, Any]) -> int:
        """Record a running trial for `arch`; returns its number."""
        import optuna
        from optuna.distributions import CategoricalDistribution

        params, distributions = {}, {}
        for label, value in arch.items():
            choices = self._choices[label]
            params[label] = value if _scalar(value) else json.dumps(value)
            distributions[label] = CategoricalDistribution(choices)
        template = optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING, params=params, distributions=distributions,
            user_attrs={_RECORD_ATTR: {"arch": arch}},
        )
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        number = self.storage.get_trial_number_from_id(trial_id)
        self._trial_ids[number] = trial_id
        return number

    def report(self, number: int, step: int, value: float) -> None:
        self.storage.set_trial_intermediate_value(self._trial_ids[number], step, float(value))

    def frozen_trial(self, number: int) -> Any:
        """Optuna's view of a trial (for pruners)."""
        return self.storage.get_trial(self._trial_ids[number])

    def finish(self, record: TrialRecord) -> None:
        """Write a trial's final state, metric and details."""
        import optuna

        trial_id = self._trial_ids[record.number]
        details = {"arch": record.arch, "state": record.state.value, "metrics": record.metrics,
                   "params": record.params, "duration_s": record.duration_s, "error": record.error}
        self.storage.set_trial_user_attr(trial_id, _RECORD_ATTR, details)
        state = optuna.trial.TrialState[_OPTUNA_STATE[record.state]]
        values = [record.metric] if state == optuna.trial.TrialState.COMPLETE else None
        if state == optuna.trial.TrialState.PRUNED and record.intermediate:
            values = None
        self.storage.set_trial_state_values(trial_id, state, values)

    def records(self) -> list[TrialRecord]:
        """Every trial in the store, as records (for `nas resume` and readers)."""
        out = []
        for trial in self.storage.get_all_trials(self.study_id, deepcopy=False):
            details = trial.user_attrs.get(_RECORD_ATTR, {})
            self._trial_ids[trial.number] = trial._trial_id
            state = TrialState(details["state"]) if "state" in details else (
                TrialState.RUNNING if trial.state.name == "RUNNING" else TrialState.FAILED)
            start = trial.datetime_start or datetime.datetime.now()
            out.append(TrialRecord(
                number=trial.number, arch=dict(details.get("arch", {})), state=state,
                metric=trial.value if state is TrialState.COMPLETE else None,
                metrics=dict(details.get("metrics") or {}),
                intermediate=sorted(trial.intermediate_values.items()),
                params=details.get("params"), duration_s=details.get("duration_s"),
                error=details.get("error"), started_at=start.timestamp(),
            ))
        return out

    def close(self) -> None:
        try:
            self.storage.remove_session()
            self.storage.engine.dispose()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

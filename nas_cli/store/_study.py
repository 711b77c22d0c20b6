"""The trial store: one Optuna study in `<exp>/study.db` (Optuna's RDB storage on SQLite).

Architecture decisions are categorical params (values that are not plain scalars are stored
as their JSON text); the search space, spec and status live in the study's user attrs so any
reader can decode trials without importing user code. Only the driver writes.
"""

from __future__ import annotations

import contextlib
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


def _check_readable(path: Path) -> None:
    """Refuse (without writing to it) a file that is not an Optuna study database."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            found = conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                 "AND name='studies'").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"{path} is not a readable trial store ({exc}); start a new "
                         "experiment or restore the file") from None
    if found is None:
        raise StoreError(f"{path} holds no trial store (empty or another database); start a "
                         "new experiment or restore the file")


def _now() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


class _Writer:
    """The hot writes (a trial starts, reports, ends) as plain SQL on Optuna's RDB schema.

    Optuna's own RDBStorage spends ~10 ms of CPU per trial in its ORM; these statements write
    the same rows in well under a millisecond. Everything else (creating the study, study
    attrs, reading) goes through Optuna's API, and tests read what this writes with Optuna.
    """

    def __init__(self, path: Path, study_id: int):
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.study_id = study_id
        self._next_number: int | None = None  # counted once: the driver is the only writer

    def start(self, params: list[tuple[str, float, str]], attrs: dict[str, Any]) -> tuple[int, int]:
        """Insert a RUNNING trial with its params; returns (trial_id, number)."""
        with self._transaction() as cur:
            number = self._next_number
            if number is None:
                number = cur.execute("SELECT COUNT(*) FROM trials WHERE study_id = ?",
                                     (self.study_id,)).fetchone()[0]
            cur.execute("INSERT INTO trials (number, study_id, state, datetime_start) "
                        "VALUES (?, ?, 'RUNNING', ?)", (number, self.study_id, _now()))
            trial_id = cur.lastrowid
            cur.executemany("INSERT INTO trial_params (trial_id, param_name, param_value, "
                            "distribution_json) VALUES (?, ?, ?, ?)",
                            [(trial_id, *p) for p in params])
            self._attrs(cur, trial_id, attrs)
        self._next_number = number + 1
        return trial_id, number

    def report(self, trial_id: int, step: int, value: float) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO trial_intermediate_values (trial_id, step, "
                        "intermediate_value, intermediate_value_type) VALUES (?, ?, ?, 'FINITE')",
                        (trial_id, step, value))

    def finish(self, trial_id: int, state: str, value: float | None, attrs: dict[str, Any]) -> None:
        with self._transaction() as cur:
            cur.execute("UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?",
                        (state, _now(), trial_id))
            if value is not None:
                cur.execute("INSERT OR REPLACE INTO trial_values (trial_id, objective, value, "
                            "value_type) VALUES (?, 0, ?, 'FINITE')", (trial_id, value))
            self._attrs(cur, trial_id, attrs)

    @staticmethod
    def _attrs(cur: sqlite3.Cursor, trial_id: int, attrs: dict[str, Any]) -> None:
        cur.executemany("INSERT OR REPLACE INTO trial_user_attributes (trial_id, key, value_json) "
                        "VALUES (?, ?, ?)",
                        [(trial_id, k, json.dumps(v)) for k, v in attrs.items()])

    @contextlib.contextmanager
    def _transaction(self):
        try:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except sqlite3.Error as exc:  # a full disk, a locked or damaged file
            raise StoreError(f"cannot write {self.path}: {exc}") from None

    def close(self) -> None:
        self.conn.close()


class TrialStore:
    """Writes and reads one experiment's trials in its Optuna study."""

    def __init__(self, path: Path, *, study_name: str, direction: str | None = None,
                 create: bool = False):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)  # no tracebacks on ^C
        self.path = Path(path)
        if create:
            _enable_wal(self.path)
        elif not self.path.exists():
            raise StoreError(f"{self.path} not found: the experiment has no trial store")
        else:
            _check_readable(self.path)
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
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            detail = detail[0] if detail else type(exc).__name__
            raise StoreError(
                f"{self.path} is not a readable trial store ({detail}); "
                "start a new experiment or restore the file"
            ) from None
        self.study_id = self.study._study_id
        self._trial_ids: dict[int, int] = {}
        self._choices: dict[str, tuple[Any, ...]] = {}
        self._distributions: dict[str, str] = {}
        self._writer = _Writer(self.path, self.study_id)

    # --- study-level metadata ----------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.storage.set_study_user_attr(self.study_id, key, value)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self.storage.get_study_user_attrs(self.study_id).get(key, default)

    def set_space(self, space_json: dict[str, Any]) -> None:
        """Stores the discovered space; it defines how params are encoded."""
        from optuna.distributions import CategoricalDistribution, distribution_to_json

        self.set_meta("nas:space", space_json)
        self._choices = {k: param_choices(v["candidates"]) for k, v in space_json["labels"].items()}
        self._distributions = {k: distribution_to_json(CategoricalDistribution(c))
                               for k, c in self._choices.items()}

    # --- trials ------------------------------------------------------------------------------
    def start_trial(self, arch: dict[str, Any]) -> int:
        """Record a running trial for `arch`; returns its number."""
        params = []
        for label, value in arch.items():
            stored = value if _scalar(value) else json.dumps(value)
            index = next(i for i, c in enumerate(self._choices[label])
                         if c == stored and type(c) is type(stored))
            params.append((label, float(index), self._distributions[label]))
        with self._errors():
            trial_id, number = self._writer.start(params, {_RECORD_ATTR: {"arch": arch}})
        self._trial_ids[number] = trial_id
        return number

    def report(self, number: int, step: int, value: float) -> None:
        with self._errors():
            self._writer.report(self._trial_ids[number], step, float(value))

    def frozen_trial(self, number: int) -> Any:
        """Optuna's view of a trial (for pruners)."""
        return self.storage.get_trial(self._trial_ids[number])

    def finish(self, record: TrialRecord) -> None:
        """Write a trial's final state, metric and details."""
        details = {"arch": record.arch, "state": record.state.value, "metrics": record.metrics,
                   "params": record.params, "duration_s": record.duration_s, "error": record.error}
        complete = record.state is TrialState.COMPLETE and record.metric is not None
        state = _OPTUNA_STATE[record.state]
        if state == "COMPLETE" and not complete:  # Optuna needs a value for COMPLETE
            state = "FAIL"
        with self._errors():
            self._writer.finish(self._trial_ids[record.number], state,
                                float(record.metric) if complete else None,
                                {_RECORD_ATTR: details})

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

    @contextlib.contextmanager
    def _errors(self):
        """SQLite's errors (a full disk, a damaged file) as one-line StoreErrors."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write {self.path}: {exc}") from None

    def close(self) -> None:
        try:
            self._writer.close()
            self.storage.remove_session()
            self.storage.engine.dispose()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

"""The trial store: one Optuna study in `<exp>/study.db` (Optuna's RDB storage on SQLite).

Architecture decisions are categorical params (values that are not plain scalars are stored
as their JSON text); the search space, spec and status live in the study's user attrs so any
reader can decode trials without importing user code. Only the driver writes.

The driver writes and reads its rows with plain SQL on Optuna's schema (a new study.db is a
copy of a template schema, see `_template`), so running an experiment needs neither Optuna
nor SQLAlchemy; Optuna's own storage is opened on demand (for its pruners). The schema's
revision is checked before anything is written (`_schema`); what nas-cli keeps beside
Optuna's columns is defined in `_attrs`.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from nas_cli.errors import StoreError
from nas_cli.store._attrs import TRIAL_ATTR, StudyMeta, TrialDetails, what_is_wrong
from nas_cli.store._schema import check_schema
from nas_cli.trials import TrialRecord, TrialState

_OPTUNA_STATE = {
    TrialState.RUNNING: "RUNNING",
    TrialState.COMPLETE: "COMPLETE", TrialState.PRUNED: "PRUNED",
    TrialState.FAILED: "FAIL", TrialState.INTERRUPTED: "FAIL",
}


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
    """What Optuna's RDB storage writes: '2026-01-02 03:04:05.678901'."""
    return datetime.datetime.now().isoformat(" ", "microseconds")


def categorical_json(choices: tuple[Any, ...]) -> str:
    """What Optuna's `distribution_to_json(CategoricalDistribution(choices))` writes."""
    return json.dumps({"name": "CategoricalDistribution", "attributes": {"choices": list(choices)}})


_NUMBER = {"FINITE": None, "INF_POS": math.inf, "INF_NEG": -math.inf, "NAN": math.nan}


def _number(value: float | None, kind: str | None) -> float | None:
    """A value as Optuna stores it (non-finite ones by their type, the value column NULL)."""
    special = _NUMBER.get(kind or "FINITE")
    return value if special is None else special


def _stored(value: float | None, kind: str | None) -> float:
    """The value of a row that always has one (an objective's, an intermediate one)."""
    number = _number(value, kind)
    return math.nan if number is None else number


def _directions(direction: str | Sequence[str] | None) -> list[Literal["minimize", "maximize"]]:
    """One direction per objective, as Optuna spells them."""
    if direction is None or isinstance(direction, str):
        direction = [direction or "minimize"]
    return ["maximize" if d.lower() == "maximize" else _minimize(d) for d in direction]


def _minimize(direction: str) -> Literal["minimize"]:
    if direction.lower() != "minimize":
        raise StoreError(f"unknown direction {direction!r}: minimize or maximize")
    return "minimize"


def _new_file(path: Path, study_name: str, direction: str | Sequence[str] | None) -> bool:
    """A new study.db: a copy of the template schema (True: the study is still to be added),
    or, without a cache folder, the schema and the study made in place by Optuna (False)."""
    from nas_cli.store._template import copy_template

    if copy_template(path):
        return True
    _create_with_optuna(path, study_name, direction)
    return False


def _create_with_optuna(path: Path, study_name: str,
                        direction: str | Sequence[str] | None) -> None:
    with _optuna_errors(path):
        import optuna

        _quiet(optuna)
        _enable_wal(path)
        storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
        optuna.create_study(storage=storage, study_name=study_name,
                            directions=_directions(direction))
        storage.engine.dispose()


def _quiet(optuna: Any) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)  # no tracebacks on ^C


@contextlib.contextmanager
def _optuna_errors(path: Path):
    """Optuna's and SQLAlchemy's errors on a study.db as one-line StoreErrors."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/optuna raise many kinds
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        detail = lines[0] if lines else type(exc).__name__
        raise StoreError(
            f"{path} is not a readable trial store ({detail}); "
            "start a new experiment or restore the file"
        ) from None


class _Writer:
    """Every write and read of the driver, as plain SQL on Optuna's RDB schema.

    Optuna's own RDBStorage spends ~10 ms of CPU per trial in its ORM and ~0.4 s importing
    SQLAlchemy; these statements write the same rows in well under a millisecond. Tests read
    what this writes with Optuna.
    """

    def __init__(self, path: Path, group_s: float = 0.0):
        self.path = path
        # > 0: writes share one transaction, committed once it is this many seconds old (or
        # on `commit()`): a simulated run writes thousands of trials a second
        self.group_s = group_s
        self._opened = 0.0
        try:
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise StoreError(f"{path} is not a readable trial store ({exc}); start a new "
                             "experiment or restore the file") from None
        self.study_id = -1
        self._next_number: int | None = None  # counted once: the driver is the only writer

    def create_study(self, name: str, direction: str | Sequence[str] | None) -> None:
        """Add the study (as `optuna.create_study` would) to a copy of the template; one
        direction per objective."""
        with self._transaction() as cur:
            self.study_id = cur.execute("INSERT INTO studies (study_name) VALUES (?)",
                                        (name,)).lastrowid
            cur.executemany("INSERT INTO study_directions (direction, study_id, objective) "
                            "VALUES (?, ?, ?)", [(d.upper(), self.study_id, k)
                                                 for k, d in enumerate(_directions(direction))])

    def find_study(self, name: str) -> None:
        found = self.read("SELECT study_id FROM studies WHERE study_name = ?", (name,))
        if not found:
            raise StoreError(f"{self.path} holds no study named {name!r}; start a new "
                             "experiment or restore the file")
        self.study_id = found[0][0]

    def start(self, params: list[tuple[str, float, str]], details: TrialDetails) -> tuple[int, int]:
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
            self._details(cur, trial_id, details)
        self._next_number = number + 1
        return trial_id, number

    def report(self, trial_id: int, step: int, value: float) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO trial_intermediate_values (trial_id, step, "
                        "intermediate_value, intermediate_value_type) VALUES (?, ?, ?, 'FINITE')",
                        (trial_id, step, value))

    def finish(self, trial_id: int, state: str, values: Sequence[float] | None,
               details: TrialDetails) -> None:
        with self._transaction() as cur:
            cur.execute("UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?",
                        (state, _now(), trial_id))
            if values is not None:
                cur.executemany("INSERT OR REPLACE INTO trial_values (trial_id, objective, "
                                "value, value_type) VALUES (?, ?, ?, 'FINITE')",
                                [(trial_id, k, v) for k, v in enumerate(values)])
            self._details(cur, trial_id, details)

    def restart(self, trial_id: int, details: TrialDetails) -> None:
        """A trial runs again (a retry): its intermediate values start afresh."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM trial_intermediate_values WHERE trial_id = ?", (trial_id,))
            self._details(cur, trial_id, details)

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        """Study user attributes (key -> JSON value)."""
        with self._transaction() as cur:
            cur.executemany("INSERT OR REPLACE INTO study_user_attributes (study_id, key, "
                            "value_json) VALUES (?, ?, ?)",
                            [(self.study_id, k, json.dumps(v)) for k, v in attrs.items()])

    def attrs(self) -> dict[str, Any]:
        rows = self.read("SELECT key, value_json FROM study_user_attributes WHERE study_id = ?",
                          (self.study_id,))
        return {key: json.loads(value) for key, value in rows}

    def read(self, query: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(query, args).fetchall()
        except sqlite3.Error as exc:  # a damaged file
            raise StoreError(f"cannot read {self.path}: {exc}") from None

    @staticmethod
    def _details(cur: sqlite3.Cursor, trial_id: int, details: TrialDetails) -> None:
        cur.execute("INSERT OR REPLACE INTO trial_user_attributes (trial_id, key, value_json) "
                    "VALUES (?, ?, ?)", (trial_id, TRIAL_ATTR, details.value_json()))

    @contextlib.contextmanager
    def _transaction(self):
        try:
            cur = self.conn.cursor()
            if not self.conn.in_transaction:
                cur.execute("BEGIN IMMEDIATE")
                self._opened = time.monotonic()
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")  # with grouped writes, the group's too
                raise
            if time.monotonic() - self._opened >= self.group_s:
                cur.execute("COMMIT")
        except sqlite3.Error as exc:  # a full disk, a locked or damaged file
            raise StoreError(f"cannot write {self.path}: {exc}") from None

    def commit(self) -> None:
        """Commit grouped writes (before another connection reads the file)."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write {self.path}: {exc}") from None

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self.conn.close()


class TrialStore:
    """Writes and reads one experiment's trials in its Optuna study."""

    def __init__(self, path: Path, *, study_name: str,
                 direction: str | Sequence[str] | None = None, create: bool = False,
                 group_s: float = 0.0):
        """`direction`: one per objective (a multi-objective study); `group_s` > 0 commits trial writes in groups at most that many seconds apart (a
        simulated run; a killed driver then loses at most that much)."""
        self.path = Path(path)
        self.study_name = study_name
        add_study = False
        if create:
            add_study = _new_file(self.path, study_name, direction)
        elif not self.path.exists():
            raise StoreError(f"{self.path} not found: the experiment has no trial store")
        else:
            _check_readable(self.path)
        check_schema(self.path)  # the SQL below is right for the schemas it was tested on
        self._writer = _Writer(self.path, group_s)
        try:
            if add_study:
                self._writer.create_study(study_name, direction)
            else:
                self._writer.find_study(study_name)
        except StoreError:
            self._writer.close()
            raise
        self.study_id: int = self._writer.study_id
        self._storage: Any = None
        self._study: Any = None
        self._trial_ids: dict[int, int] = {}
        self._choices: dict[str, tuple[Any, ...]] = {}
        self._indexes: dict[str, dict[tuple[type, Any], int]] = {}
        self._distributions: dict[str, str] = {}
        self._continuous: set[str] = set()

    # --- Optuna's view, opened on demand (its pruners read the study through it) -------------
    @property
    def storage(self) -> Any:
        if self._storage is None:
            with _optuna_errors(self.path):
                import optuna

                _quiet(optuna)
                self._storage = optuna.storages.RDBStorage(
                    f"sqlite:///{self.path}", engine_kwargs={"connect_args": {"timeout": 30}},
                    skip_table_creation=True,
                )
        return self._storage

    @property
    def study(self) -> Any:
        if self._study is None:
            self._writer.commit()  # grouped writes (a simulated run) are Optuna's to read too
            with _optuna_errors(self.path):
                import optuna

                self._study = optuna.load_study(storage=self.storage, study_name=self.study_name)
        return self._study

    # --- study-level metadata ----------------------------------------------------------------
    def save_meta(self, meta: StudyMeta) -> None:
        """Write the study attributes set on `meta` (the others are left as they are)."""
        self._writer.set_attrs(meta.attrs())

    def meta(self) -> StudyMeta:
        """The study's `nas:*` attributes; malformed ones are a one-line StoreError."""
        from pydantic import ValidationError

        try:
            return StudyMeta.model_validate(self._writer.attrs())
        except ValidationError as exc:
            raise StoreError(f"{self.path} has a malformed study attribute "
                             f"({what_is_wrong(exc)}); restore the file") from None

    def set_space(self, space_json: dict[str, Any]) -> None:
        """Stores the discovered space; it defines how params are encoded."""
        from nas_cli.distributions import Distribution

        self.save_meta(StudyMeta(space=space_json))
        labels = space_json["labels"]
        self._continuous = {k for k, v in labels.items() if v.get("distribution")}
        self._choices = {k: param_choices(v["candidates"]) for k, v in labels.items()
                         if k not in self._continuous}
        self._indexes = {k: {(type(c), c): i for i, c in enumerate(choices)}
                         for k, choices in self._choices.items()}
        self._distributions = {k: categorical_json(c) for k, c in self._choices.items()}
        for label in self._continuous:  # a range: Optuna's Float/IntDistribution, the value itself
            ranged = Distribution.from_json(labels[label]["distribution"])
            self._distributions[label] = json.dumps(ranged.optuna_json())

    # --- trials ------------------------------------------------------------------------------
    def start_trial(self, arch: dict[str, Any], phase: str | None = None) -> int:
        """Record a running trial for `arch` (of a one-shot `phase`); returns its number."""
        params = []
        for label, value in arch.items():
            if label in self._continuous:
                params.append((label, float(value), self._distributions[label]))
                continue
            stored = value if _scalar(value) else json.dumps(value)
            index = self._indexes[label][type(stored), stored]
            params.append((label, float(index), self._distributions[label]))
        with self._errors():
            trial_id, number = self._writer.start(params, TrialDetails.started(arch, phase))
        self._trial_ids[number] = trial_id
        return number

    def report(self, number: int, step: int, value: float) -> None:
        with self._errors():
            self._writer.report(self._trial_ids[number], step, float(value))

    def frozen_trial(self, number: int) -> Any:
        """Optuna's view of a trial (for pruners)."""
        self._writer.commit()  # Optuna reads through a connection of its own
        return self.storage.get_trial(self._trial_ids[number])

    def retry(self, record: TrialRecord) -> None:
        """A trial lost with its worker runs again: its earlier attempts are kept with it."""
        with self._errors():
            self._writer.restart(self._trial_ids[record.number], TrialDetails.of(record))

    def finish(self, record: TrialRecord) -> None:
        """Write a trial's final state, metric and details."""
        metric = record.metric
        values: list[float] | None = None
        if record.state is TrialState.COMPLETE and metric is not None:  # one per objective
            values = [float(v) for v in (record.values or [metric])]
        state = _OPTUNA_STATE[record.state]
        if state == "COMPLETE" and values is None:  # Optuna needs a value for COMPLETE
            state = "FAIL"
        with self._errors():
            self._writer.finish(self._trial_ids[record.number], state, values,
                                TrialDetails.of(record))

    def records(self) -> list[TrialRecord]:
        """Every trial in the store, as records (for `nas resume` and readers)."""
        read = self._writer.read
        trials = read("SELECT t.trial_id, t.number, t.state, t.datetime_start, v.value, "
                      "v.value_type FROM trials t LEFT JOIN trial_values v ON v.trial_id = "
                      "t.trial_id AND v.objective = 0 WHERE t.study_id = ? ORDER BY t.number",
                      (self.study_id,))
        details: dict[int, TrialDetails] = {}
        for trial_id, number, value in read(
                "SELECT a.trial_id, t.number, a.value_json FROM trial_user_attributes a JOIN "
                "trials t ON t.trial_id = a.trial_id WHERE t.study_id = ? AND a.key = ?",
                (self.study_id, TRIAL_ATTR)):
            details[trial_id] = self._parse_details(number, value)
        values: dict[int, list[float]] = {}
        for trial_id, _, value, kind in read(
                "SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v "
                "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ? "
                "ORDER BY v.trial_id, v.objective", (self.study_id,)):
            values.setdefault(trial_id, []).append(_stored(value, kind))
        intermediate: dict[int, list[tuple[int, float]]] = {}
        for trial_id, step, value, kind in read(
                "SELECT i.trial_id, i.step, i.intermediate_value, i.intermediate_value_type FROM "
                "trial_intermediate_values i JOIN trials t ON t.trial_id = i.trial_id WHERE "
                "t.study_id = ? ORDER BY i.step", (self.study_id,)):
            intermediate.setdefault(trial_id, []).append((step, _stored(value, kind)))
        out = []
        for trial_id, number, optuna_state, start, value, kind in trials:
            detail = details.get(trial_id) or TrialDetails(arch={})
            self._trial_ids[number] = trial_id
            state = detail.state or (  # only started, or written by another program
                TrialState.RUNNING if optuna_state == "RUNNING" else TrialState.FAILED)
            complete = state is TrialState.COMPLETE
            started = datetime.datetime.fromisoformat(start) if start else datetime.datetime.now()
            several = values.get(trial_id, [])
            out.append(TrialRecord(
                number=number, arch=dict(detail.arch), state=state,
                metric=_number(value, kind) if complete else None,
                values=several if complete and len(several) > 1 else None,
                metrics=dict(detail.metrics), intermediate=intermediate.get(trial_id, []),
                params=detail.params, duration_s=detail.duration_s, error=detail.error,
                started_at=started.timestamp(), peak_memory=detail.peak_memory,
                node=detail.node, attempts=list(detail.attempts), phase=detail.phase,
            ))
        return out

    def _parse_details(self, number: int, value: str) -> TrialDetails:
        from pydantic import ValidationError

        try:
            return TrialDetails.model_validate_json(value)
        except ValidationError as exc:
            raise StoreError(f"{self.path}: trial {number}'s attribute {TRIAL_ATTR!r} is "
                             f"malformed ({what_is_wrong(exc)}); restore the file") from None

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
            if self._storage is not None:
                self._storage.remove_session()
                self._storage.engine.dispose()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

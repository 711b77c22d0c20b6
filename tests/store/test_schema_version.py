"""The store writes Optuna's tables with its own SQL, so it checks the schema's revision first:
a study.db of a schema it does not know (a newer Optuna's, an older one, or none) is refused
in one line before anything is written, on `nas resume` as on `nas run`; the Optuna that
setup.cfg allows is the one these tests run with."""

from __future__ import annotations

import configparser
import contextlib
import shutil
import sqlite3
from pathlib import Path

import optuna
import pytest
from helpers.tables import every_row, table_spec, write_table
from packaging.requirements import Requirement

from nas_cli._files import cache_dir
from nas_cli.errors import StoreError
from nas_cli.store import TrialStore
from nas_cli.store._schema import OPTUNA_REQUIREMENT, SCHEMA_REVISIONS, schema_revision
from nas_cli.store._template import optuna_version
from nas_cli.trials import TrialRecord, TrialState

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"


def _set_revision(db: Path, revision: str, library: str | None = None) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        if library is not None:
            conn.execute("UPDATE version_info SET library_version = ?", (library,))
        conn.commit()


def _files(folder: Path) -> dict[str, bytes]:
    """The folder's files, but SQLite's own -shm (a reader makes it) and an empty -wal."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


def _study(tmp_path: Path) -> Path:
    db = tmp_path / "study.db"
    store = TrialStore(db, study_name="exp", direction="maximize", create=True)
    store.start_trial({})
    store.close()
    return db


def test_a_newer_schema_is_refused_in_one_line_before_anything_is_written(tmp_path):
    db = _study(tmp_path)
    _set_revision(db, "v9.9.0.a", "9.9.0")
    before = _files(tmp_path)
    with pytest.raises(StoreError) as caught:
        TrialStore(db, study_name="exp")
    message = str(caught.value)
    assert "\n" not in message
    assert "v9.9.0.a (Optuna 9.9.0), which nas-cli does not know" in message
    assert "it writes v3.2.0.a" in message and f"pip install '{OPTUNA_REQUIREMENT}'" in message
    assert _files(tmp_path) == before


@pytest.mark.parametrize(("revision", "says"), [
    ("v3.0.0.d", "upgrade it with `optuna storage upgrade --storage sqlite:///"),
    (None, "has no Optuna schema revision"),
])
def test_an_older_schema_or_none_is_refused_with_what_to_do(tmp_path, revision, says):
    db = _study(tmp_path)
    if revision is None:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("DROP TABLE alembic_version")
    else:
        _set_revision(db, revision)
    with pytest.raises(StoreError, match=r"^[^\n]*$") as caught:
        TrialStore(db, study_name="exp")
    assert says in str(caught.value)


def test_resume_of_a_study_db_with_a_newer_schema_exits_1_and_keeps_the_files(
        nas, tmp_path, exp_dir):
    spec = table_spec(tmp_path, write_table(tmp_path, every_row()), max_trial_number=2)
    assert nas("run", spec)[0] == 0
    (folder,) = exp_dir.iterdir()
    _set_revision(folder / "study.db", "v9.9.0.a", "9.9.0")
    before = _files(folder)
    code, out, err = nas("resume", folder.name)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ") and "v9.9.0.a" in err
    assert _files(folder) == before


def test_a_run_is_refused_when_the_installed_optuna_writes_an_unknown_schema(
        nas, tmp_path, exp_dir, monkeypatch):
    """A newer Optuna than setup.cfg allows, installed by hand, makes the template: the run is
    refused before it starts and leaves no experiment behind."""
    TrialStore(tmp_path / "warm.db", study_name="warm", create=True).close()  # the template
    template = cache_dir() / f"study-template-optuna-{optuna_version()}.db"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shutil.copytree(template.parent, cache_dir())
    _set_revision(cache_dir() / template.name, "v9.9.0.a")
    spec = table_spec(tmp_path, write_table(tmp_path, every_row()), max_trial_number=2)
    code, out, err = nas("run", spec)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "v9.9.0.a" in err
    assert not exp_dir.exists() or list(exp_dir.iterdir()) == []


def test_setup_cfg_allows_the_optuna_these_tests_run_with(tmp_path):
    """setup.cfg's Optuna range is the one the store states, the installed Optuna is in it,
    and the schema it makes is one the store knows: the round trips in tests/store ran on
    the oldest and newest Optuna the range allows when the range holds one release (5.0.x)."""
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    requires = [Requirement(line) for line in config["options"]["install_requires"].split("\n")
                if line.strip()]
    (optuna_req,) = [r for r in requires if r.name == "optuna"]
    assert optuna_req == Requirement(OPTUNA_REQUIREMENT)
    assert optuna_req.specifier.contains(optuna.__version__)
    TrialStore(tmp_path / "study.db", study_name="s", create=True).close()
    assert schema_revision(tmp_path / "study.db")[0] in SCHEMA_REVISIONS


def test_a_study_db_that_optuna_itself_made_opens_and_reads_back(tmp_path):
    """The revision the installed Optuna writes is one the store knows: a study Optuna made
    opens, takes a trial, and Optuna loads that trial back."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="made-by-optuna", storage=storage, direction="maximize")
    store = TrialStore(tmp_path / "study.db", study_name="made-by-optuna")
    store.set_space({"size": 2, "labels": {"act": {"kind": "choice", "candidates": [0, 1]}}})
    number = store.start_trial({"act": 1})
    store.finish(TrialRecord(number, {"act": 1}, TrialState.COMPLETE, metric=0.5))
    store.close()
    (trial,) = optuna.load_study(study_name="made-by-optuna", storage=storage).trials
    assert (trial.state, trial.value, trial.params) == (optuna.trial.TrialState.COMPLETE, 0.5,
                                                        {"act": 1})

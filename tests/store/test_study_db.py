"""A new study.db is a copy of a cached template of Optuna's schema: Optuna reads what the
driver writes, the template is rebuilt when it is missing, damaged or from another Optuna, and
without a cache folder the schema is made in place."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, distribution_to_json

from nas_cli._files import cache_dir
from nas_cli.errors import StoreError
from nas_cli.store import StudyMeta, TrialDetails, TrialStore, study_meta
from nas_cli.store._study import categorical_json
from nas_cli.store._template import optuna_version
from nas_cli.trials import TrialRecord, TrialState

SPACE = {"size": 6, "labels": {"hidden": {"kind": "value", "candidates": [4, 8, 16]},
                               "shape": {"kind": "value", "candidates": [[1, 2], "flat"]}}}


def _fill(path: Path, name: str = "exp", direction: str = "maximize") -> TrialStore:
    """A store with one complete trial (two intermediate values), one failed, one running."""
    store = TrialStore(path, study_name=name, direction=direction, create=True)
    store.set_space(SPACE)
    store.save_meta(StudyMeta(status="running"))
    first = store.start_trial({"hidden": 8, "shape": [1, 2]})
    store.report(first, 0, 0.25)
    store.report(first, 1, 0.5)
    store.finish(TrialRecord(first, {"hidden": 8, "shape": [1, 2]}, TrialState.COMPLETE,
                             metric=0.75, metrics={"default": 0.75}, params=12, duration_s=0.5))
    second = store.start_trial({"hidden": 4, "shape": "flat"})
    store.finish(TrialRecord(second, {"hidden": 4, "shape": "flat"}, TrialState.FAILED,
                             error="ValueError: boom"))
    store.start_trial({"hidden": 16, "shape": "flat"})
    return store


def test_optuna_loads_the_study_the_driver_wrote(tmp_path):
    _fill(tmp_path / "study.db").close()
    study = optuna.load_study(study_name="exp", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.user_attrs["nas:space"] == SPACE and study.user_attrs["nas:status"] == "running"
    complete, failed, running = study.trials
    assert complete.state == optuna.trial.TrialState.COMPLETE and complete.value == 0.75
    assert complete.params == {"hidden": 8, "shape": "[1, 2]"}
    assert complete.intermediate_values == {0: 0.25, 1: 0.5}
    assert complete.distributions["hidden"] == CategoricalDistribution((4, 8, 16))
    assert failed.state == optuna.trial.TrialState.FAIL and failed.user_attrs["nas"]["error"]
    assert running.state == optuna.trial.TrialState.RUNNING
    # what Optuna reads back is what the store's models wrote
    assert StudyMeta.model_validate(study.user_attrs) == StudyMeta(space=SPACE, status="running")
    details = TrialDetails.model_validate(complete.user_attrs["nas"])
    assert (details.state, details.params, details.metrics) == (TrialState.COMPLETE, 12,
                                                                {"default": 0.75})


def test_categorical_json_is_what_optuna_writes():
    for choices in [(4, 8, 16), ("relu", None, 2.5, True), ("[1, 2]", "flat")]:
        assert categorical_json(choices) == distribution_to_json(CategoricalDistribution(choices))


def test_a_reopened_store_reads_back_every_trial(tmp_path):
    _fill(tmp_path / "study.db", direction="minimize").close()
    store = TrialStore(tmp_path / "study.db", study_name="exp")
    records = store.records()
    assert [(r.number, r.state, r.metric) for r in records] == [
        (0, TrialState.COMPLETE, 0.75), (1, TrialState.FAILED, None), (2, TrialState.RUNNING, None)]
    assert records[0].arch == {"hidden": 8, "shape": [1, 2]} and records[0].params == 12
    assert records[0].intermediate == [(0, 0.25), (1, 0.5)] and records[1].error == "ValueError: boom"
    assert store.meta().space == SPACE and store.meta().status == "running"
    assert store.study.direction == optuna.study.StudyDirection.MINIMIZE  # Optuna's view too
    assert store.frozen_trial(0).intermediate_values == {0: 0.25, 1: 0.5}
    store.close()


def test_a_store_holding_no_such_study_is_refused_in_one_line(tmp_path):
    _fill(tmp_path / "study.db").close()
    with pytest.raises(Exception, match="holds no study named 'other'") as caught:
        TrialStore(tmp_path / "study.db", study_name="other")
    assert "\n" not in str(caught.value)


def _template() -> Path:
    return cache_dir() / f"study-template-optuna-{optuna_version()}.db"


def _damage(template: Path) -> None:
    template.write_bytes(b"not a database")


def _other_version(template: Path) -> None:
    with contextlib.closing(sqlite3.connect(template)) as conn:
        conn.execute("UPDATE version_info SET library_version = '0.0.1'")
        conn.commit()


@pytest.mark.parametrize("spoil", [_damage, _other_version])
def test_the_template_is_rebuilt_when_damaged_or_from_another_optuna(tmp_path, monkeypatch, spoil):
    TrialStore(tmp_path / "first.db", study_name="first", create=True).close()  # made if missing
    session_template = _template()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = _template()
    template.parent.mkdir(parents=True)
    shutil.copyfile(session_template, template)
    spoil(template)
    _fill(tmp_path / "second.db", name="second").close()
    with contextlib.closing(sqlite3.connect(f"file:{template}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT library_version FROM version_info").fetchone() == (
            optuna.__version__,)
    assert len(optuna.load_study(study_name="second",
                                 storage=f"sqlite:///{tmp_path / 'second.db'}").trials) == 3


def test_without_a_cache_folder_the_schema_is_made_in_place(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _fill(tmp_path / "study.db").close()
    study = optuna.load_study(study_name="exp", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "RUNNING"]


def test_creating_a_study_imports_neither_optuna_nor_sqlalchemy(tmp_path, private_cache):
    TrialStore(tmp_path / "warm.db", study_name="warm", create=True).close()  # the template
    code = (f"import sys; from nas_cli.store import TrialStore; "
            f"TrialStore({str(tmp_path / 'study.db')!r}, study_name='s', direction='maximize', "
            f"create=True).close(); print(sorted({{'optuna', 'sqlalchemy'}} & set(sys.modules)))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
    assert optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")


def test_attributes_the_store_cannot_read_are_named_in_one_line(tmp_path):
    """Attributes changed by another program, not as the store's models have them: the
    driver (`nas resume`) says which and where, and readers of the file fall back."""
    _fill(tmp_path / "study.db").close()
    with contextlib.closing(sqlite3.connect(tmp_path / "study.db")) as conn:
        conn.execute("INSERT INTO study_user_attributes (study_id, key, value_json) "
                     "VALUES (1, 'nas:created', '\"yesterday\"')")
        conn.execute("UPDATE trial_user_attributes SET value_json = '{\"arch\": 3}' "
                     "WHERE key = 'nas' AND trial_id = 2")
        conn.commit()
    store = TrialStore(tmp_path / "study.db", study_name="exp")
    with pytest.raises(StoreError, match=r"^[^\n]*malformed study attribute \(nas:created: "):
        store.meta()
    with pytest.raises(StoreError, match=r"^[^\n]*trial 1's attribute 'nas' is malformed "
                                         r"\(arch: "):
        store.records()
    store.close()
    assert study_meta(tmp_path) == StudyMeta()  # a reader: nothing it can trust

"""An experiment's Optuna study as `nas view` shows it: read-only and readable.

Nothing is stored: LayerChoice indices carry their names (`act = "1: Tanh"`), the objective is
named (`val_acc` rather than "Objective 0"), the driver's record of each trial (error,
parameter count, duration, other metrics) becomes separate user attrs, and the study's attrs
read as rows (name, objective, the choices of each decision, dates, the spec).
"""

from __future__ import annotations

import time
from collections.abc import Container, Sequence
from typing import Any

from optuna.distributions import CategoricalDistribution
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState
from pydantic import ValidationError

from nas_cli.durations import format_elapsed
from nas_cli.errors import StoreError
from nas_cli.report._space import choice_names, renamed
from nas_cli.store import TRIAL_ATTR, StudyMeta, TrialDetails

METRIC_NAMES = "study:metric_names"  # where Optuna and the dashboard look for objective names


def _refused(*args: Any, **kwargs: Any) -> Any:
    raise StoreError("nas view is read-only: the experiment's study.db is never changed")


class ReadableStorage(BaseStorage):
    """Reads through `inner` (an RDBStorage); every write is refused."""

    create_new_study = delete_study = set_study_user_attr = set_study_system_attr = _refused
    create_new_trial = set_trial_param = set_trial_state_values = _refused
    set_trial_intermediate_value = set_trial_user_attr = set_trial_system_attr = _refused

    def __init__(self, inner: BaseStorage, study_id: int,
                 metric: str | Sequence[str] | None = None):
        """`metric`: the objective's name, or one per objective."""
        self._inner = inner
        self._metric = _names(metric)
        self._names = renamed(inner.get_study_user_attrs(study_id).get(StudyMeta.key("space")))

    # --- studies -----------------------------------------------------------------------------
    def get_study_id_from_name(self, study_name: str) -> int:
        return self._inner.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._inner.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._inner.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return study_attrs(self._inner.get_study_user_attrs(study_id), self._metric)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._named(self._inner.get_study_system_attrs(study_id))

    def get_all_studies(self) -> list[FrozenStudy]:
        studies = self._inner.get_all_studies()
        for study in studies:
            study.system_attrs = self._named(study.system_attrs)
            study.user_attrs = study_attrs(study.user_attrs, self._metric)
        return studies

    # --- trials ------------------------------------------------------------------------------
    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._inner.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self._inner.get_trial_number_from_id(trial_id)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._readable(self._inner.get_trial(trial_id))

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        trials = self._inner.get_all_trials(study_id, deepcopy=False, states=states)
        return [self._readable(t) for t in trials]

    def remove_session(self) -> None:
        self._inner.remove_session()

    # --- making things readable --------------------------------------------------------------
    def _named(self, system_attrs: dict[str, Any]) -> dict[str, Any]:
        if self._metric and METRIC_NAMES not in system_attrs:
            return {**system_attrs, METRIC_NAMES: list(self._metric)}
        return dict(system_attrs)

    def _readable(self, trial: FrozenTrial) -> FrozenTrial:
        params, distributions = dict(trial.params), dict(trial.distributions)
        for label, names in self._names.items():
            dist = distributions.get(label)
            if label in params and isinstance(dist, CategoricalDistribution):
                params[label] = names.get(params[label], params[label])
                distributions[label] = CategoricalDistribution(
                    [names.get(c, c) for c in dist.choices])
        attrs = {k: v for k, v in trial.user_attrs.items() if k != TRIAL_ATTR}
        attrs.update(details_attrs(trial.user_attrs.get(TRIAL_ATTR), self._metric))
        return FrozenTrial(
            number=trial.number, state=trial.state, value=None, values=trial.values,
            datetime_start=trial.datetime_start, datetime_complete=trial.datetime_complete,
            params=params, distributions=distributions, user_attrs=attrs,
            system_attrs=trial.system_attrs, intermediate_values=trial.intermediate_values,
            trial_id=trial._trial_id,
        )


def _names(metric: str | Sequence[str] | None) -> list[str]:
    if metric is None:
        return []
    return [metric] if isinstance(metric, str) else list(metric)


def study_attrs(attrs: dict[str, Any], metric: str | Sequence[str] | None) -> dict[str, Any]:
    """The driver's study attrs (`StudyMeta`: the space as JSON, dates as timestamps, ...) as
    rows a person reads: the name, the objective, one row per decision with its choices,
    dates, the spec. Attrs that are not the driver's, or not as it writes them, show as they
    are."""
    try:
        meta = StudyMeta.model_validate(attrs)
    except ValidationError:
        return dict(attrs)
    out: dict[str, Any] = {}
    if meta.name is not None:
        out["name"] = meta.name
    if meta.status is not None:
        out["status"] = meta.status
    names = _names(metric)
    if names:
        out["objective" if len(names) == 1 else "objectives"] = ", ".join(names)
    space = meta.space
    if space is not None and isinstance(space.get("labels"), dict):
        size = space.get("size")
        size = "infinitely many" if size is None else f"{size:,}"
        out["space"] = f"{size} architectures, {len(space['labels'])} decisions"
        for label, pairs in choice_names(space).items():
            decision = space["labels"][label]
            kind = decision.get("kind", "")
            if decision.get("distribution"):  # a continuous range
                from nas_cli.distributions import Distribution

                shown = Distribution.from_json(decision["distribution"]).describe()
            else:
                shown = " | ".join(name for _, name in pairs)
            out[f"choices: {label}"] = f"({kind}) {shown}"
    if meta.created is not None:
        out["created"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(meta.created))
    if meta.elapsed is not None:
        out["elapsed"] = format_elapsed(meta.elapsed)
    if meta.infeasible:
        out["refused by the constraints"] = meta.infeasible
    if meta.reruns:
        out["reruns"] = ", ".join(f"trial {old} as trial {new}" for old, new in meta.reruns.items()
                                  if new is not None)
    if meta.spec_dir is not None:
        out["spec folder"] = meta.spec_dir
    if meta.spec is not None:
        out["spec"] = meta.spec
    out.update(meta.model_extra or {})  # attrs of someone else's, as they are
    return out


def details_attrs(details: Any, metric: str | Sequence[str] | None) -> dict[str, Any]:
    """The driver's record of a trial (`TrialDetails`) as flat user attrs: error, params,
    duration, metrics."""
    try:
        record = TrialDetails.model_validate(details)
    except ValidationError:
        return {}
    out: dict[str, Any] = {}
    if record.error:
        out["error"] = record.error
    if record.params is not None:
        out["params"] = record.params
    if record.duration_s is not None:
        out["duration_s"] = round(record.duration_s, 3)
    objectives = _names(metric)
    for name, value in record.metrics.items():
        if name not in objectives:
            out[f"metric:{name}" if name in out else name] = value
    return out

"""What the driver keeps in study.db beside Optuna's own columns, defined once.

- the study's user attributes `nas:*` (`StudyMeta`): the search space, the spec, dates, status;
- each trial's user attribute `nas` (`TrialDetails`): its state as nas-cli tells it, its
  architecture, metrics and the rest of its record.

The driver writes them through these models; `nas resume`, `nas view` and the report read
them through the same models (pydantic, no Optuna, no torch).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nas_cli.trials import TrialRecord, TrialState

TRIAL_ATTR = "nas"  # the trial user attribute holding its `TrialDetails`


def what_is_wrong(exc: ValidationError) -> str:
    """A validation error's first problem in a few words: `trials.1.trial: Input should be
    a valid integer`."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


class StudyMeta(BaseModel):
    """The study's user attributes (Optuna's `study.user_attrs`) that the driver writes: each
    field is stored under its key, `nas:<field>`. All are optional: a study has those written
    so far (and a reader sees any other attribute as an extra)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    space: dict[str, Any] | None = Field(
        None, alias="nas:space",
        description="the search space: its size and each decision's label, kind, candidates, "
                    "readable names and conditions (readers decode trials without your code)")
    name: str | None = Field(None, alias="nas:name", description="the experiment's name")
    spec: str | None = Field(None, alias="nas:spec",
                             description="the spec as it was run, as YAML text")
    spec_dir: str | None = Field(
        None, alias="nas:spec_dir",
        description="the folder the spec's relative paths (model space, data) are resolved in")
    created: float | None = Field(None, alias="nas:created",
                                  description="when the experiment was created (unix time)")
    elapsed: float | None = Field(
        None, alias="nas:elapsed",
        description="seconds the experiment has run, over all its runs (`nas resume` adds to it)")
    status: str | None = Field(None, alias="nas:status",
                               description="the experiment's status when its driver last stopped")
    infeasible: int | None = Field(
        None, alias="nas:infeasible",
        description="architectures the constraints refused before training (they used no trial)")
    refused: list[tuple[dict[str, Any], float]] | None = Field(
        None, alias="nas:refused",
        description="each architecture the constraints refused, with how far over the limit "
                    "it was (relative): told to the strategy again on `nas resume`")
    reruns: dict[int, int | None] | None = Field(
        None, alias="nas:reruns",
        description="interrupted trial -> the trial that ran its architecture again (null: "
                    "claimed, not started yet)")

    @classmethod
    def key(cls, field: str) -> str:
        """The attribute key of a field: `StudyMeta.key("space") == "nas:space"`."""
        return cls.model_fields[field].alias or field

    def attrs(self) -> dict[str, Any]:
        """The fields set on this object, by attribute key, as JSON values:
        `StudyMeta(name="digits").attrs() == {"nas:name": "digits"}`."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class TrialDetails(BaseModel):
    """A trial's user attribute `nas`: what Optuna's own columns (state, values, params,
    intermediate values, dates) do not hold. Written when the trial starts (`arch`, `phase`)
    and again whenever it changes state."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    arch: dict[str, Any] = Field(description="the architecture: label -> chosen value")
    state: TrialState | None = Field(
        None, description="nas-cli's state (Optuna's FAIL is `failed` or `interrupted`); "
                          "absent while the trial has only started")
    metrics: dict[str, float] = Field({}, description="every metric the evaluator reported")
    params: int | None = Field(None, description="the frozen model's parameter count")
    duration_s: float | None = Field(None, description="seconds the trial ran")
    error: str | None = Field(None, description="why it failed, was pruned or interrupted")
    peak_memory: int | None = Field(None, description="its worker's peak resident memory, bytes")
    node: str | None = Field(None, description="the cluster node it ran on")
    phase: str | None = Field(None, description="one-shot: `search` or `retrain`")
    attempts: list[dict[str, Any]] = Field(
        [], description="earlier attempts lost with their worker or node")

    @classmethod
    def of(cls, record: TrialRecord) -> TrialDetails:
        optional = {"peak_memory": record.peak_memory, "node": record.node,
                    "phase": record.phase}
        return cls(arch=record.arch, state=record.state, metrics=record.metrics,
                   params=record.params, duration_s=record.duration_s, error=record.error,
                   **{k: v for k, v in optional.items() if v is not None},
                   **({"attempts": record.attempts} if record.attempts else {}))

    @classmethod
    def started(cls, arch: dict[str, Any], phase: str | None) -> TrialDetails:
        """What a trial's attribute holds from its start until it changes state."""
        return cls(arch=arch, **({"phase": phase} if phase is not None else {}))

    def value_json(self) -> str:
        """The attribute's JSON text (what Optuna stores in `value_json`)."""
        return self.model_dump_json(exclude_unset=True)

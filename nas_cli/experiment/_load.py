"""Importing what a spec names: the model space class, mutators, the evaluator function."""

from __future__ import annotations

import difflib
import pickle
import sys
import traceback
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from nas_cli._imports import import_ref
from nas_cli.errors import NasError, SpaceError, SpecError

if TYPE_CHECKING:
    from nas_cli.spec import ExperimentSpec


def _user_frame(exc: BaseException) -> str:
    """The innermost frame of the user's code, as 'file:line'."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "importlib" not in f.filename and "/nas_cli/" not in f.filename]
    return f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""


def import_module(ref: str, base_dir: Path, what: str) -> ModuleType:
    """A dotted module, or a .py file (relative to `base_dir`), imported once; errors become
    one line naming `what`, the user's file and line."""
    try:
        return import_ref(ref, base_dir)
    except NasError:
        raise
    except FileNotFoundError as exc:
        raise SpecError(f"{what}: {exc}") from None
    except ModuleNotFoundError as exc:
        if exc.name and ref.startswith(exc.name):
            raise SpaceError(f"{what}: no module named '{ref}' (a dotted module on the Python "
                             f"path or a .py file relative to the spec)") from None
        raise SpaceError(f"{what}: importing {ref} failed: {_user_frame(exc)}"
                         f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        raise SpaceError(f"{what}: importing {ref} failed: {_user_frame(exc)}"
                         f"{type(exc).__name__}: {exc}") from None


def user_modules(*objects: Any) -> list[tuple[str, str]]:
    """(private name, path) of the .py files `objects` come from (imported by path)."""
    found = []
    for obj in objects:
        name = str(getattr(obj, "__module__", None) or getattr(type(obj), "__module__", ""))
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if name.startswith("nas_user_") and path and (name, path) not in found:
            found.append((name, path))
    return found


def load_attr(ref: str, base_dir: Path, what: str) -> Any:
    """`module:attr` (module dotted or a .py path) -> the object."""
    module_ref, _, attr = ref.rpartition(":")
    if not module_ref or not attr:
        raise SpecError(f"{what}: must have the form 'module:name', got {ref!r}")
    module = import_module(module_ref, base_dir, what)
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SpecError(f"{what}: {module_ref} has no attribute '{attr}'{hint}") from None


def load_space(spec: ExperimentSpec) -> tuple[type, list[Any]]:
    """The model space class and the instantiated custom mutators of a spec."""
    ms = spec.model_space
    module = import_module(ms.module, spec.base_dir, "model_space.module")
    model_class = getattr(module, ms.class_name, None)
    if model_class is None:
        classes = sorted(k for k, v in vars(module).items()
                         if isinstance(v, type) and getattr(v, "_nas_model_wrapper", False))
        hint = f" (model spaces there: {', '.join(classes)})" if classes else ""
        raise SpaceError(f"model_space.class: {ms.module} has no class '{ms.class_name}'{hint}")
    if not getattr(model_class, "_nas_model_wrapper", False):
        raise SpaceError(f"model_space.class: {ms.class_name} is not a model space: decorate "
                         "it with @model_wrapper (from nas_cli import model_wrapper)")
    mutators = []
    for index, ref in enumerate(ms.mutators):
        obj = load_attr(ref, spec.base_dir, f"model_space.mutators[{index}]")
        try:
            mutators.append(obj() if isinstance(obj, type) else obj)
        except Exception as exc:  # noqa: BLE001 - the user's constructor
            raise SpaceError(f"model_space.mutators[{index}]: {ref}() failed: {exc}") from None
    return model_class, mutators


def load_evaluator(spec: ExperimentSpec, space: Any = None) -> Any:
    """The spec's evaluator; a table evaluator reads its table and checks it against `space`."""
    from nas_cli.evaluator import FunctionEvaluator, TrainingEvaluator, check_signature

    config = spec.evaluator
    if config.type == "table":
        from nas_cli.evaluator import TableEvaluator, read_table
        from nas_cli.space import search_space
        from nas_cli.spec import resolve_path

        if space is None:
            model_class, mutators = load_space(spec)
            space = search_space(model_class, spec.model_space.init_kwargs, mutators)
        return TableEvaluator(read_table(resolve_path(spec, config.path), space,
                                         spec.objective.metric, config.sqlite_table))
    if config.type == "function":
        function = load_attr(config.function, spec.base_dir, "evaluator.function")
        if not callable(function):
            raise SpecError(f"evaluator.function: {config.function} is not callable")
        check_signature(function, config.kwargs, "evaluator.function")
        return FunctionEvaluator(function, config.kwargs)
    from nas_cli.evaluator import check_dataset

    check_dataset(config.dataset, base_dir=spec.base_dir)
    return TrainingEvaluator(config, spec.base_dir)


def build_payload(spec: ExperimentSpec, device: str = "cpu"):
    """Everything a worker needs, plus the search space (for the driver): the model's
    decisions, then the searched hyperparameters."""
    payload, space, _ = _build(spec, device)
    return payload, space


def _build(spec: ExperimentSpec, device: str = "cpu") -> tuple[Any, Any, Any]:
    """(payload, search space, the model's own space)."""
    from nas_cli.execution import TrialPayload
    from nas_cli.space import search_space

    model_class, mutators = load_space(spec)
    model_space = search_space(model_class, spec.model_space.init_kwargs, mutators)
    space, hparams = with_hyperparameters(spec, model_space)
    payload = TrialPayload(model_class, dict(spec.model_space.init_kwargs), mutators,
                           load_evaluator(spec, model_space), spec.objective.metric, device,
                           max_memory=spec.max_trial_memory, **payload_extras(spec, hparams))
    return payload, space, model_space


def payload_from_spec(spec: ExperimentSpec, device: str = "cpu") -> Any:
    """The TrialPayload of a spec, without discovering the space (what a worker needs)."""
    from nas_cli.execution import TrialPayload

    model_class, mutators = load_space(spec)
    extras = getattr(spec, "extras", None) or payload_extras(spec, hyperparameter_labels(spec))
    return TrialPayload(model_class, dict(spec.model_space.init_kwargs), mutators,
                        load_evaluator(spec), spec.objective.metric, device,
                        max_memory=spec.max_trial_memory, **extras)


class _FromSpec:
    """Pickles as "call payload_from_spec(spec)": the worker that unpickles it imports the
    user's code itself, so the driver need not (workers that see this machine's files). The
    spec travels as the plain data that `payload_from_spec` reads (no pydantic in workers for
    function evaluators; the training evaluators keep their config)."""

    def __init__(self, spec: ExperimentSpec):
        self.spec = spec

    def __reduce__(self) -> tuple[Any, ...]:
        from nas_cli.spec import Searched

        ms, evaluator = self.spec.model_space, self.spec.evaluator
        sent: Any = evaluator
        if evaluator.type == "function":  # a searched kwarg as written (each trial sets it)
            kwargs = {k: v.form if isinstance(v, Searched) else v
                      for k, v in evaluator.kwargs.items()}
            sent = SimpleNamespace(type="function", function=evaluator.function, kwargs=kwargs)
        plain = SimpleNamespace(
            model_space=SimpleNamespace(module=ms.module, class_name=ms.class_name,
                                        init_kwargs=dict(ms.init_kwargs),
                                        mutators=list(ms.mutators)),
            evaluator=sent, base_dir=self.spec.base_dir,
            objective=SimpleNamespace(metric=self.spec.objective.metric),
            max_trial_memory=self.spec.max_trial_memory,
            extras=payload_extras(self.spec, hyperparameter_labels(self.spec)))
        return payload_from_spec, (plain,)


def _built_here(spec: ExperimentSpec) -> bool:
    """What needs the space built in this process: constraints (they build models to count
    parameters and FLOPs), data files checked before anything runs (a table evaluator's table
    against the space, a torchvision dataset's folder), a one-shot strategy (its phases send
    payloads of their own, and the space is checked to make a supernet before anything
    trains)."""
    from nas_cli.spec import ONE_SHOT

    limits = spec.constraints
    return (spec.evaluator.type == "table" or spec.strategy.name in ONE_SHOT
            or hasattr(getattr(spec.evaluator, "dataset", None), "root")
            or (limits is not None and bool(limits.max_params or limits.max_flops)))


def prepare_run(spec: ExperimentSpec, *, shared_files: bool) -> tuple[Any, bytes, Any]:
    """(space, payload bytes for the workers, payload or None) for running `spec`.

    A space known from an earlier run with unchanged files is not rebuilt: this process then
    imports neither the user's code nor torch, and workers that see this machine's files
    (`shared_files`) build the payload from the spec. Otherwise the space is built here,
    errors reading as always, and remembered."""
    from nas_cli.experiment import _space_cache

    if shared_files and not _built_here(spec):
        model_space = _space_cache.lookup(spec, with_evaluator=True)
        if model_space is not None:
            space, _ = with_hyperparameters(spec, model_space)
            return space, pickle.dumps(_FromSpec(spec)), None
    payload, space, model_space = _build(spec)
    # the model's own decisions: searched hyperparameters are added from the spec each time
    _space_cache.remember(spec, model_space, with_evaluator=True)
    return space, pickle_payload(payload), payload


def discover(spec: ExperimentSpec) -> Any:
    """The search space a spec names (for `nas space`): known, or built and remembered."""
    from nas_cli.experiment import _space_cache
    from nas_cli.space import search_space

    space = _space_cache.lookup(spec, with_evaluator=False)
    if space is None:
        model_class, mutators = load_space(spec)
        space = search_space(model_class, spec.model_space.init_kwargs, mutators)
        _space_cache.remember(spec, space, with_evaluator=False)
    return space


def hyperparameter_labels(spec: ExperimentSpec) -> dict[str, str]:
    """{label: evaluator field or kwarg} of the searched hyperparameters."""
    from nas_cli.spec import HP_PREFIX, searched_fields

    return {HP_PREFIX + name: name for name in searched_fields(spec.evaluator)}


def payload_extras(spec: ExperimentSpec, hparams: dict[str, str]) -> dict[str, Any]:
    """What a TrialPayload takes beyond the space and the evaluator: every objective's
    metric, the cost metrics to measure, the latency limit, the hyperparameter labels."""
    costs, latency_limit = cost_requests(spec)
    return {"metrics": [o.metric for o in spec.objectives], "costs": costs,
            "latency_limit": latency_limit, "hparams": hparams}


def with_hyperparameters(spec: ExperimentSpec, model_space: Any) -> tuple[Any, dict[str, str]]:
    """The model's space with one decision (kind "hp", label `hp/<field>`) per searched
    evaluator field or kwarg appended, and {label: field}. They are not part of the model:
    freezing takes the model's labels only, the evaluator gets the values."""
    from nas_cli.space import Decision, SearchSpace, describe
    from nas_cli.spec import HP_PREFIX, searched_fields

    searched = searched_fields(spec.evaluator)
    if not searched:
        return model_space, {}  # (a known space is kept as it is)
    clash = [label for label in model_space.decisions if label.startswith(HP_PREFIX)]
    if clash:
        raise SpaceError(f"label '{clash[0]}' of the model space starts with '{HP_PREFIX}', "
                         "which names searched hyperparameters; rename it")
    decisions = dict(model_space.decisions)
    labels = {}
    for name, value in searched.items():
        label = HP_PREFIX + name
        if value.choices is not None:
            choices = list(value.choices)
            decisions[label] = Decision(label, "hp", choices, [describe(c) for c in choices])
        else:
            decisions[label] = Decision(label, "hp", [], [], distribution=value.distribution)
        labels[label] = name
    return SearchSpace(decisions, dict(model_space.aliases), list(model_space.limits)), labels


def cost_requests(spec: ExperimentSpec) -> tuple[list[Any], float | None]:
    """The cost metrics a worker measures before training (objectives, and the latency
    constraint), and constraints.max_latency_ms."""
    from nas_cli.evaluator import COST_METRICS, CostRequest

    limits = spec.constraints
    shape = tuple(limits.input_shape) if limits and limits.input_shape else None
    requests = {o.metric: CostRequest(o.metric, tuple(o.input_shape) if o.input_shape else shape,
                                      o.batch_size or 1)
                for o in spec.objectives if o.metric in COST_METRICS}
    limit = limits.max_latency_ms if limits else None
    if limits is not None and limit is not None and "latency_ms" not in requests:
        requests["latency_ms"] = CostRequest("latency_ms", shape, limits.latency_batch_size)
    return list(requests.values()), limit


def pickle_payload(payload: Any) -> bytes:
    """The payload for the workers: by reference to the user's files (tracebacks then name
    them) with a by-value copy for workers that cannot see those files (remote nodes)."""
    from nas_cli.execution import dump_payload

    modules = user_modules(payload.model_class, getattr(payload.evaluator, "function", None),
                           *payload.mutators)
    try:
        return dump_payload(payload, modules)
    except Exception as exc:  # noqa: BLE001 - anything unpicklable in the user's objects
        raise SpaceError(f"the model space or evaluator cannot be sent to worker processes: "
                         f"{type(exc).__name__}: {exc}") from None

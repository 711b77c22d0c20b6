"""Importing what a spec names: the model space class, mutators, the evaluator function."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from nas_cli.errors import NasError, SpaceError, SpecError
from nas_cli.spec import ExperimentSpec
from nas_cli.spec._models import FunctionEvaluatorSpec


def _user_frame(exc: BaseException) -> str:
    """The innermost frame of the user's code, as 'file:line'."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "importlib" not in f.filename and "/nas_cli/" not in f.filename]
    return f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""


def import_module(ref: str, base_dir: Path, what: str) -> ModuleType:
    """A dotted module, or a .py file (relative to `base_dir`), imported once.

    Files are imported under a private name and pickled by value, so spaces defined in a
    script travel to worker processes."""
    try:
        if ref.endswith(".py"):
            path = (base_dir / ref).resolve()
            name = "nas_user_" + path.stem + "_" + hashlib.sha1(str(path).encode()).hexdigest()[:8]
            if name in sys.modules:
                return sys.modules[name]
            if not path.is_file():
                raise SpecError(f"{what}: file not found: {path}")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            if str(path.parent) not in sys.path:
                sys.path.append(str(path.parent))
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            import cloudpickle

            cloudpickle.register_pickle_by_value(module)
            return module
        for folder in (str(Path.cwd()), str(base_dir)):
            if folder not in sys.path:
                sys.path.insert(0, folder)
        return importlib.import_module(ref)
    except NasError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and ref.startswith(exc.name):
            raise SpaceError(f"{what}: no module named '{ref}' (a dotted module on the Python "
                             f"path or a .py file relative to the spec)") from None
        raise SpaceError(f"{what}: importing {ref} failed: {_user_frame(exc)}"
                         f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        raise SpaceError(f"{what}: importing {ref} failed: {_user_frame(exc)}"
                         f"{type(exc).__name__}: {exc}") from None


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


def load_evaluator(spec: ExperimentSpec) -> Any:
    from nas_cli.evaluator._function import FunctionEvaluator, check_signature
    from nas_cli.evaluator._training import TrainingEvaluator

    config = spec.evaluator
    if isinstance(config, FunctionEvaluatorSpec):
        function = load_attr(config.function, spec.base_dir, "evaluator.function")
        if not callable(function):
            raise SpecError(f"evaluator.function: {config.function} is not callable")
        check_signature(function, config.kwargs, "evaluator.function")
        return FunctionEvaluator(function, config.kwargs)
    return TrainingEvaluator(config, spec.base_dir)


def build_payload(spec: ExperimentSpec, device: str = "cpu"):
    """Everything a worker needs, plus the discovered space (for the driver)."""
    from nas_cli.execution import TrialPayload
    from nas_cli.space import search_space

    model_class, mutators = load_space(spec)
    space = search_space(model_class, spec.model_space.init_kwargs, mutators)
    evaluator = load_evaluator(spec)
    payload = TrialPayload(model_class, dict(spec.model_space.init_kwargs), mutators, evaluator,
                           spec.objective.metric, device)
    return payload, space


def pickle_payload(payload: Any) -> bytes:
    import cloudpickle

    try:
        return cloudpickle.dumps(payload)
    except Exception as exc:  # noqa: BLE001 - anything unpicklable in the user's objects
        raise SpaceError(f"the model space or evaluator cannot be sent to worker processes: "
                         f"{type(exc).__name__}: {exc}") from None

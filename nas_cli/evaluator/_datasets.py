"""Datasets for the built-in evaluators: built in (offline), user factories, torchvision.

Loaded data is cached per process, so a worker that runs many trials loads it once.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import TypeAdapter, ValidationError
from torch.utils.data import DataLoader, Dataset, TensorDataset

from nas_cli._imports import import_ref
from nas_cli.errors import SpecError
from nas_cli.spec import BUILTIN_DATASETS, DatasetFactory, DatasetSpec, TorchvisionDataset

_TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_WHERE = "evaluator.dataset"

_cache: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_cache_lock = threading.RLock()  # a factory may itself call load_dataset


def load_dataset(
    dataset: DatasetSpec | dict[str, Any],
    *,
    task: str,
    seed: int = 0,
    base_dir: Path | None = None,
) -> tuple[Dataset | DataLoader, Dataset | DataLoader]:
    """The (train, val) pair that `dataset` names, loaded once per process.

    `dataset` is a built-in name (`digits`, `diabetes`), a `DatasetFactory` or a
    `TorchvisionDataset` (or the dict a YAML spec holds). `seed` picks the built-ins' 80/20
    split; `base_dir` is where relative paths resolve (the spec file's folder). Configuration
    problems raise a one-line `SpecError`.

    >>> train, val = load_dataset("digits", task="classification")
    >>> train[0][0].shape, len(train), len(val)
    (torch.Size([1, 8, 8]), 1437, 360)
    """
    dataset = _parse(dataset)
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    key = _cache_key(dataset, task, seed, base_dir)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _load(dataset, task, seed, base_dir)
        return _cache[key]


def check_dataset(dataset: Any, *, base_dir: Path | None = None) -> None:
    """Refuse, in the driver and before any trial, a dataset that cannot load: torchvision
    missing, no files under its root, a factory that cannot be imported or called."""
    spec = _parse(dataset)
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    if isinstance(spec, TorchvisionDataset):
        if importlib.util.find_spec("torchvision") is None:
            raise SpecError(f"{_WHERE}: {spec.name} needs torchvision: pip install torchvision")
        root = _resolve(spec.root, base_dir)
        if not root.is_dir() or not any(root.iterdir()):
            raise SpecError(f"{_WHERE}: {spec.name} not found under {root}: download it there "
                            "first; nas never downloads")
    elif isinstance(spec, DatasetFactory):
        factory = _import_object(spec.factory, base_dir=base_dir, where=f"{_WHERE}.factory")
        if not callable(factory):
            raise SpecError(f"{_WHERE}.factory: {spec.factory} is not callable")


def clear_cache() -> None:
    """Forget every loaded dataset (tests; a long-lived process whose data changed on disk)."""
    with _cache_lock:
        _cache.clear()


# --- dispatch -------------------------------------------------------------------------------


def _parse(dataset: Any) -> DatasetSpec:
    if isinstance(dataset, str | DatasetFactory | TorchvisionDataset):
        return dataset
    try:
        return TypeAdapter(DatasetSpec).validate_python(dataset)
    except ValidationError as exc:
        raise SpecError(
            f"{_WHERE}: expected a name ({', '.join(BUILTIN_DATASETS)}), "
            f"{{factory: 'module:function', kwargs: {{...}}}} or {{name: mnist, root: DIR}}, "
            f"got {dataset!r}"
        ) from exc


def _cache_key(dataset: DatasetSpec, task: str, seed: int, base_dir: Path) -> tuple[Any, ...]:
    if isinstance(dataset, str):
        return ("builtin", dataset, task, seed)
    if isinstance(dataset, TorchvisionDataset):
        return ("torchvision", dataset.name, str(_resolve(dataset.root, base_dir)))
    kwargs = json.dumps(dataset.kwargs, sort_keys=True, default=repr)
    return ("factory", dataset.factory, str(base_dir.resolve()), kwargs)


def _load(dataset: DatasetSpec, task: str, seed: int, base_dir: Path) -> tuple[Any, Any]:
    if isinstance(dataset, str):
        return _builtin(dataset, task, seed)
    if isinstance(dataset, TorchvisionDataset):
        return _torchvision(dataset, base_dir)
    return _from_factory(dataset, base_dir)


def _resolve(path: str | Path, base_dir: Path) -> Path:
    path = Path(path).expanduser()
    return (path if path.is_absolute() else base_dir / path).resolve()


# --- built in -------------------------------------------------------------------------------


def _builtin(name: str, task: str, seed: int) -> tuple[TensorDataset, TensorDataset]:
    if name not in BUILTIN_DATASETS:
        raise SpecError(
            f"{_WHERE}: unknown dataset {name!r}; built-in datasets are "
            f"{', '.join(BUILTIN_DATASETS)} (or use {{factory: 'module:function'}})"
        )
    if BUILTIN_DATASETS[name] != task:
        raise SpecError(
            f"{_WHERE}: {name!r} is a {BUILTIN_DATASETS[name]} dataset, "
            f"but evaluator.type is {task!r}"
        )
    return _digits(seed) if name == "digits" else _diabetes(seed)


def _digits(seed: int) -> tuple[TensorDataset, TensorDataset]:
    """sklearn's 8x8 digits: 1797 images (1, 8, 8) in [0, 1], 10 classes, stratified 80/20."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = data.target.astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    return _tensors(x_train, y_train), _tensors(x_val, y_val)


def _diabetes(seed: int) -> tuple[TensorDataset, TensorDataset]:
    """sklearn's diabetes: 442 rows of 10 features, random 80/20 split.

    Features and the target are standardized with the training split's mean and std, so
    targets have shape (1,) and `val_mse` is in units of the target's variance (1.0 is what
    always predicting the mean scores).
    """
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    features, target = load_diabetes(return_X_y=True, scaled=False)
    x_train, x_val, y_train, y_val = train_test_split(
        features, target.reshape(-1, 1), test_size=0.2, random_state=seed
    )
    x_mean, x_std = x_train.mean(0), x_train.std(0)
    y_mean, y_std = y_train.mean(0), y_train.std(0)
    x_train, x_val = (x_train - x_mean) / x_std, (x_val - x_mean) / x_std
    y_train, y_val = (y_train - y_mean) / y_std, (y_val - y_mean) / y_std
    return (
        _tensors(x_train.astype(np.float32), y_train.astype(np.float32)),
        _tensors(x_val.astype(np.float32), y_val.astype(np.float32)),
    )


def _tensors(inputs: np.ndarray, targets: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.from_numpy(np.ascontiguousarray(inputs)), torch.from_numpy(targets))


# --- torchvision ----------------------------------------------------------------------------


class ImageTensorDataset(TensorDataset):
    """uint8 images (N, C, H, W) kept as bytes; items come out as float32 in [0, 1].

    Indexing with a tensor of indices returns a whole batch at once (the evaluator's fast path).
    """

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.tensors
        return images[index].float().div_(255.0), labels[index]


def _torchvision(spec: TorchvisionDataset, base_dir: Path) -> tuple[Any, Any]:
    """MNIST, FashionMNIST, CIFAR-10 from files under `root` (train split, test split as val)."""
    try:
        import torchvision.datasets
    except ImportError as exc:
        raise SpecError(
            f"{_WHERE}: {spec.name} needs torchvision: pip install torchvision"
        ) from exc
    root = _resolve(spec.root, base_dir)
    cls = getattr(torchvision.datasets, _TORCHVISION_CLASSES[spec.name])
    try:
        train = cls(str(root), train=True, download=False)
        val = cls(str(root), train=False, download=False)
    except RuntimeError as exc:  # torchvision's "Dataset not found ..."
        raise SpecError(
            f"{_WHERE}: {spec.name} not found under {root}: download it there first "
            f"(torchvision.datasets.{cls.__name__}(root, download=True)); nas never downloads"
        ) from exc
    return _image_tensors(train), _image_tensors(val)


def _image_tensors(dataset: Any) -> ImageTensorDataset:
    images = torch.as_tensor(np.asarray(dataset.data))
    if images.ndim == 3:  # MNIST: (N, H, W)
        images = images.unsqueeze(1)
    else:  # CIFAR: (N, H, W, C)
        images = images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    return ImageTensorDataset(images.contiguous(), labels)


# --- user factories -------------------------------------------------------------------------


def _from_factory(spec: DatasetFactory, base_dir: Path) -> tuple[Any, Any]:
    where = f"{_WHERE}.factory"
    factory = _import_object(spec.factory, base_dir=base_dir, where=where)
    if not callable(factory):
        raise SpecError(f"{where}: {spec.factory} is not a function")
    result = factory(**spec.kwargs)
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise SpecError(
            f"{where}: {spec.factory} must return (train, val) datasets or DataLoaders, "
            f"got {type(result).__name__}"
        )
    for part, value in zip(("train", "val"), result):
        if not isinstance(value, DataLoader) and not hasattr(value, "__getitem__"):
            raise SpecError(
                f"{where}: {spec.factory} returned a {type(value).__name__} as {part} data; "
                "expected a torch Dataset or DataLoader"
            )
    return result[0], result[1]


def _import_object(ref: str, *, base_dir: Path | None = None, where: str = "") -> Any:
    """`"module:name"` -> the object; module is dotted or a .py path relative to `base_dir`.

    Import problems raise a one-line `SpecError` starting with `where`. A .py file gets the
    same private module name as `nas_cli.experiment._load` gives it, so a file that holds both
    the model space and the dataset factory is imported once.
    """
    prefix = f"{where}: " if where else ""
    module_name, sep, attr = ref.rpartition(":")
    if not sep or not module_name or not attr:
        raise SpecError(f"{prefix}expected 'module:function', got {ref!r}")
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    try:
        module = import_ref(module_name, base_dir)
    except FileNotFoundError as exc:
        raise SpecError(f"{prefix}{exc}") from None
    except SpecError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())
        raise SpecError(
            f"{prefix}cannot import {module_name!r}: {type(exc).__name__}: {detail}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SpecError(f"{prefix}{module_name!r} has no attribute {attr!r}") from None



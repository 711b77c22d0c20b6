"""load_dataset: the built-in datasets, user factories, torchvision, and the per-process cache."""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from nas_cli.errors import SpecError
from nas_cli.evaluator import clear_cache, load_dataset
from nas_cli.spec._models import DatasetFactory, TorchvisionDataset

# --- built in -------------------------------------------------------------------------------


def test_digits_is_an_offline_stratified_split_of_8x8_images():
    train, val = load_dataset("digits", task="classification")
    assert (len(train), len(val)) == (1437, 360)
    x, y = train.tensors
    assert x.shape == (1437, 1, 8, 8) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    assert 0.0 <= x.min() and x.max() <= 1.0
    val_share = torch.bincount(val.tensors[1], minlength=10) / torch.bincount(
        torch.cat([y, val.tensors[1]]), minlength=10
    )
    assert torch.allclose(val_share, torch.full((10,), 0.2), atol=0.02)  # stratified


def test_the_split_depends_on_the_seed_only():
    a, _ = load_dataset("digits", task="classification", seed=0)
    b, _ = load_dataset("digits", task="classification", seed=1)
    assert not torch.equal(a.tensors[1], b.tensors[1])
    clear_cache()
    again, _ = load_dataset("digits", task="classification", seed=1)
    assert torch.equal(again.tensors[0], b.tensors[0])


def test_diabetes_is_standardized_with_train_statistics():
    train, val = load_dataset("diabetes", task="regression")
    x, y = train.tensors
    assert x.shape == (353, 10) and y.shape == (353, 1) and y.dtype == torch.float32
    assert len(val) == 89 and val[0][1].shape == (1,)
    assert torch.allclose(x.mean(0), torch.zeros(10), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(10), atol=1e-4)
    assert abs(y.mean().item()) < 1e-5 and abs(y.std(unbiased=False).item() - 1) < 1e-4


def test_data_is_loaded_once_per_process():
    first = load_dataset("digits", task="classification")
    second = load_dataset("digits", task="classification")
    assert first[0] is second[0] and first[1] is second[1]


def test_unknown_name_lists_the_built_in_datasets():
    with pytest.raises(SpecError) as info:
        load_dataset("imagenet", task="classification")
    message = str(info.value)
    assert "unknown dataset 'imagenet'" in message and "digits, diabetes" in message
    assert "\n" not in message


def test_a_dataset_for_the_other_task_is_refused():
    with pytest.raises(SpecError, match="'diabetes' is a regression dataset"):
        load_dataset("diabetes", task="classification")


def test_a_spec_dict_is_accepted_and_nonsense_refused(tmp_path):
    (tmp_path / "data_a.py").write_text(FACTORY)
    train, _ = load_dataset(
        {"factory": "data_a.py:make", "kwargs": {"n": 8}}, task="regression", base_dir=tmp_path
    )
    assert len(train) == 8
    with pytest.raises(SpecError, match="evaluator.dataset: expected a name"):
        load_dataset({"url": "http://x"}, task="classification")


# --- factories ------------------------------------------------------------------------------

FACTORY = textwrap.dedent(
    """
    import torch
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    CALLS = []

    class Squares(Dataset):
        def __init__(self, n):
            self.x = torch.linspace(-1, 1, n).unsqueeze(1)
        def __len__(self):
            return len(self.x)
        def __getitem__(self, i):
            return self.x[i], self.x[i] ** 2

    def make(n=16):
        CALLS.append(n)
        return Squares(n), Squares(n // 2)

    def loaders(n=16, batch_size=4):
        return DataLoader(Squares(n), batch_size=batch_size), DataLoader(Squares(n // 2), batch_size=4)

    def tensors(n=16):
        x = torch.randn(n, 3)
        return TensorDataset(x, x.sum(1)), TensorDataset(x[:4], x[:4].sum(1))

    def one():
        return Squares(4)
    """
)


def test_factory_from_a_py_file_relative_to_base_dir(tmp_path):
    (tmp_path / "data_b.py").write_text(FACTORY)
    spec = DatasetFactory(factory="data_b.py:make", kwargs={"n": 10})
    train, val = load_dataset(spec, task="regression", base_dir=tmp_path)
    assert (len(train), len(val)) == (10, 5)
    x, y = train[3]
    assert torch.allclose(y, x**2)
    again = load_dataset(spec, task="regression", base_dir=tmp_path)
    assert again[0] is train
    assert sys.modules[type(train).__module__].CALLS == [10]  # called once: cached


def test_factory_returning_dataloaders(tmp_path):
    (tmp_path / "data_c.py").write_text(FACTORY)
    train, val = load_dataset(
        DatasetFactory(factory="data_c.py:loaders", kwargs={"batch_size": 8}),
        task="regression",
        base_dir=tmp_path,
    )
    assert isinstance(train, DataLoader) and isinstance(val, DataLoader)
    assert train.batch_size == 8


def test_factory_from_a_dotted_module_next_to_the_spec(tmp_path):
    (tmp_path / "my_data_pkg").mkdir()
    (tmp_path / "my_data_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_data_pkg" / "sets.py").write_text(FACTORY)
    train, _ = load_dataset(
        DatasetFactory(factory="my_data_pkg.sets:tensors"), task="regression", base_dir=tmp_path
    )
    assert isinstance(train, TensorDataset) and len(train) == 16


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_colon.py", "expected 'module:function'"),
        ("missing.py:make", "file not found: "),
        ("no_such_module_xyz:make", "cannot import 'no_such_module_xyz': ModuleNotFoundError"),
        ("broken.py:make", "cannot import 'broken.py': ZeroDivisionError: division by zero"),
        ("data_d.py:nope", "'data_d.py' has no attribute 'nope'"),
        ("data_d.py:CALLS", "is not a function"),
        ("data_d.py:one", "must return (train, val) datasets or DataLoaders, got Squares"),
    ],
)
def test_factory_problems_are_one_line_spec_errors(tmp_path, ref, message):
    (tmp_path / "data_d.py").write_text(FACTORY)
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    spec = DatasetFactory.model_construct(factory=ref, kwargs={})  # as if the spec passed it
    with pytest.raises(SpecError) as info:
        load_dataset(spec, task="regression", base_dir=tmp_path)
    text = str(info.value)
    assert text.startswith("evaluator.dataset.factory: ")
    assert message in text and "\n" not in text


# --- torchvision ----------------------------------------------------------------------------


def test_torchvision_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` fails
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(SpecError) as info:
        load_dataset(TorchvisionDataset(name="mnist", root=str(tmp_path)), task="classification")
    assert str(info.value) == "evaluator.dataset: mnist needs torchvision: pip install torchvision"


def _fake_torchvision(monkeypatch, datasets: dict[str, type]) -> list[dict]:
    """Installs a stand-in torchvision whose dataset classes record how they were called."""
    calls: list[dict] = []
    module = types.ModuleType("torchvision")
    module.datasets = types.ModuleType("torchvision.datasets")
    for name, cls in datasets.items():

        def make(root, train=True, download=True, _cls=cls):
            calls.append({"root": root, "train": train, "download": download})
            return _cls(root, train)

        make.__name__ = name
        setattr(module.datasets, name, make)
    monkeypatch.setitem(sys.modules, "torchvision", module)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", module.datasets)
    return calls


class _NotDownloaded:
    def __init__(self, root, train):  # what torchvision raises without the files
        raise RuntimeError("Dataset not found. You can use download=True to download it")


def test_torchvision_files_missing_never_downloads(tmp_path, monkeypatch):
    calls = _fake_torchvision(monkeypatch, {"MNIST": _NotDownloaded})
    with pytest.raises(SpecError) as info:
        load_dataset(
            TorchvisionDataset(name="mnist", root="data"), task="classification", base_dir=tmp_path
        )
    text = str(info.value)
    assert f"mnist not found under {(tmp_path / 'data').resolve()}: download it there first" in text
    assert "nas never downloads" in text and "\n" not in text
    assert calls == [{"root": str((tmp_path / "data").resolve()), "train": True, "download": False}]


class _FakeMNIST:
    def __init__(self, root, train):
        n = 6 if train else 2
        self.data = torch.full((n, 28, 28), 255, dtype=torch.uint8)
        self.targets = torch.arange(n)


class _FakeCIFAR:
    def __init__(self, root, train):
        self.data = np.zeros((4, 32, 32, 3), dtype=np.uint8)
        self.data[..., 2] = 51
        self.targets = [0, 1, 2, 3]


def test_torchvision_images_become_float_tensors(tmp_path, monkeypatch):
    _fake_torchvision(monkeypatch, {"FashionMNIST": _FakeMNIST, "CIFAR10": _FakeCIFAR})
    train, val = load_dataset(
        TorchvisionDataset(name="fashion_mnist", root=str(tmp_path)), task="classification"
    )
    x, y = train[torch.tensor([0, 1])]
    assert (len(train), len(val)) == (6, 2)
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32 and x.max() == 1.0
    assert y.tolist() == [0, 1]
    train, _ = load_dataset(
        TorchvisionDataset(name="cifar10", root=str(tmp_path)), task="classification"
    )
    x, y = train[0]
    assert x.shape == (3, 32, 32) and torch.allclose(x[2], torch.full((32, 32), 0.2))
    assert y.dtype == torch.int64


def test_an_absolute_root_ignores_base_dir(tmp_path, monkeypatch):
    calls = _fake_torchvision(monkeypatch, {"CIFAR10": _FakeCIFAR})
    root = tmp_path / "abs"
    load_dataset(
        TorchvisionDataset(name="cifar10", root=str(root)),
        task="classification",
        base_dir=Path("/somewhere/else"),
    )
    assert calls[0]["root"] == str(root.resolve())

"""train_and_evaluate on real small data: metrics, reports, files, seeding, errors, quietness."""

from __future__ import annotations

import csv
import signal
import textwrap
import warnings

import pydantic
import pytest
import torch

from nas_cli.evaluator import train_and_evaluate
from nas_cli.spec._models import TrainingEvaluatorSpec


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models run fastest on one thread; two threads on a busy 2-core box can be 10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mlp(inputs: int = 64, outputs: int = 10) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(inputs, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, outputs),
    )


def _digits(**overrides) -> TrainingEvaluatorSpec:
    fields = {
        "type": "classification",
        "dataset": "digits",
        "max_epochs": 2,
        "learning_rate": 0.01,
        **overrides,
    }
    return TrainingEvaluatorSpec(**fields)


def test_classification_on_digits_learns_and_reports_each_epoch(tmp_path, capfd):
    reports = []
    metrics = train_and_evaluate(
        _mlp(), _digits(), report=lambda epoch, m: reports.append((epoch, m)), trial_dir=tmp_path
    )
    assert set(metrics) == {"val_acc", "val_loss", "train_loss"}
    assert metrics["val_acc"] > 0.8
    assert [epoch for epoch, _ in reports] == [1, 2]
    assert all(set(m) == {"val_acc", "val_loss"} for _, m in reports)
    assert {**reports[-1][1], "train_loss": metrics["train_loss"]} == metrics  # the last epoch
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no Lightning banners, tips or warnings
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # keep_checkpoints: none


def test_metrics_csv_has_one_row_per_epoch(tmp_path):
    (tmp_path / "metrics.csv").write_text("left over from an earlier attempt\n")
    metrics = train_and_evaluate(_mlp(), _digits(max_epochs=3), trial_dir=tmp_path)
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "train_loss", "val_acc", "val_loss"]
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert float(rows[-1]["val_acc"]) == metrics["val_acc"]
    assert float(rows[-1]["train_loss"]) == metrics["train_loss"]


def test_regression_on_diabetes_returns_val_mse(tmp_path):
    reports = []
    cfg = TrainingEvaluatorSpec(
        type="regression", dataset="diabetes", max_epochs=3, learning_rate=0.01
    )
    metrics = train_and_evaluate(
        _mlp(10, 1), cfg, report=lambda e, m: reports.append(m), trial_dir=tmp_path
    )
    assert set(metrics) == {"val_mse", "val_loss", "train_loss"}
    assert metrics["val_mse"] == metrics["val_loss"]
    assert 0 < metrics["val_mse"] < 1.0  # standardized target: 1.0 is predicting the mean
    assert [set(m) for m in reports] == [{"val_mse", "val_loss"}] * 3
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,val_mse,val_loss"


def test_keep_checkpoints_best_saves_the_best_epochs_state_dict(tmp_path):
    model = _mlp()
    train_and_evaluate(model, _digits(max_epochs=3, keep_checkpoints="best"), trial_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "model.pt"]
    state = torch.load(tmp_path / "model.pt")
    assert list(state) == list(model.state_dict())  # the user's model, no Lightning prefix
    _mlp().load_state_dict(state)


def test_keep_checkpoints_all_saves_every_epoch_and_the_best(tmp_path):
    reports = []
    train_and_evaluate(
        _mlp(),
        _digits(max_epochs=3, keep_checkpoints="all", learning_rate=0.05),
        report=lambda e, m: reports.append(m["val_acc"]),
        trial_dir=tmp_path,
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch_1.pt", "epoch_2.pt", "epoch_3.pt", "metrics.csv", "model.pt"]
    best_epoch = reports.index(max(reports)) + 1
    best, kept = torch.load(tmp_path / "model.pt"), torch.load(tmp_path / f"epoch_{best_epoch}.pt")
    assert all(torch.equal(best[k], kept[k]) for k in best)


def test_without_trial_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_and_evaluate(_mlp(), _digits(max_epochs=1, keep_checkpoints="all"))
    assert list(tmp_path.iterdir()) == []


def test_the_same_seed_gives_the_same_result():
    first = train_and_evaluate(_mlp(), _digits(max_epochs=1), seed=3)
    second = train_and_evaluate(_mlp(), _digits(max_epochs=1), seed=3)
    other = train_and_evaluate(_mlp(), _digits(max_epochs=1), seed=4)
    assert first == second
    assert other != first  # shuffling follows the seed


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_every_optimizer_trains(optimizer):
    metrics = train_and_evaluate(
        _mlp(), _digits(optimizer=optimizer, weight_decay=1e-4, learning_rate=0.05), seed=0
    )
    assert metrics["val_acc"] > 0.5


def test_an_unknown_optimizer_is_refused_by_the_spec():
    with pytest.raises(pydantic.ValidationError, match="optimizer"):
        TrainingEvaluatorSpec(type="classification", optimizer="rmsprop")


FACTORY = textwrap.dedent(
    """
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Line(Dataset):  # y = 2x + 1, targets of shape () to check the (N,) -> (N, 1) case
        def __init__(self, n):
            self.x = torch.linspace(-1, 1, n).unsqueeze(1)
        def __len__(self):
            return len(self.x)
        def __getitem__(self, i):
            return self.x[i], 2 * self.x[i, 0] + 1

    def datasets(n=64):
        return Line(n), Line(16)

    def loaders(n=64):
        return DataLoader(Line(n), batch_size=8, shuffle=True), DataLoader(Line(16), batch_size=8)
    """
)


@pytest.mark.parametrize("function", ["datasets", "loaders"])
def test_factory_datasets_and_dataloaders_train(tmp_path, function):
    (tmp_path / "line_data.py").write_text(FACTORY)
    cfg = TrainingEvaluatorSpec(
        type="regression",
        dataset={"factory": f"line_data.py:{function}"},
        max_epochs=20,
        batch_size=8,
        learning_rate=0.05,
    )
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = train_and_evaluate(torch.nn.Linear(1, 1), cfg, base_dir=tmp_path, seed=0)
    assert metrics["val_mse"] < 0.05
    assert [str(w.message) for w in caught] == []  # e.g. Lightning's pytree deprecation warning


class _Exploding(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(64, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("boom in forward")
        return self.fc(x.flatten(1))


def test_an_exception_in_training_propagates():
    with pytest.raises(RuntimeError, match="boom in forward"):
        train_and_evaluate(_Exploding(), _digits(max_epochs=1))


def test_an_exception_in_report_propagates():
    def report(epoch, metrics):
        raise ValueError("pruned")

    with pytest.raises(ValueError, match="pruned"):
        train_and_evaluate(_mlp(), _digits(max_epochs=2), report=report)


def test_ctrl_c_stays_a_keyboard_interrupt_and_sigint_keeps_its_handler():
    # Lightning on its own turns Ctrl-C into sys.exit(1).
    before = signal.getsignal(signal.SIGINT)

    def report(epoch, metrics):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(_mlp(), _digits(max_epochs=2), report=report)
    assert signal.getsignal(signal.SIGINT) is before


def test_an_unknown_device_is_refused():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        train_and_evaluate(_mlp(), _digits(max_epochs=1), device="tpu")


@pytest.mark.parametrize(
    ("device", "expected"),
    [("cpu", ("cpu", 1)), ("cuda", ("gpu", 1)), ("cuda:1", ("gpu", [1])), ("mps", ("mps", 1))],
)
def test_devices_map_to_lightning_accelerators(device, expected):
    from nas_cli.evaluator._lightning import accelerator_for

    assert accelerator_for(device) == expected

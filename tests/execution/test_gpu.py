"""GPU assignment without a GPU: which ids trials may use, how they are shared out, and the
backends a spec with `trial_gpu_number` builds."""

from __future__ import annotations

import subprocess

import pytest

from nas_cli.errors import SpecError
from nas_cli.execution import GpuSlots, LocalBackend, RayBackend, _gpu, local_backend, ray_backend
from nas_cli.execution._ray import ray_gpus_per_trial
from nas_cli.spec._models import ExperimentSpec


def make_spec(**overrides) -> ExperimentSpec:
    data = {"model_space": {"module": "pkg.space", "class": "Net"},
            "evaluator": {"type": "function", "function": "pkg.space:evaluate"},
            "trial_concurrency": 3, **overrides}
    return ExperimentSpec.model_validate(data)


@pytest.fixture
def no_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(subprocess, "run", missing)


@pytest.mark.parametrize(("value", "ids"), [
    ("0,1", ["0", "1"]), (" 2, 3 ", ["2", "3"]), ("", []), ("-1", []), ("1,-1,2", ["1"]),
    ("GPU-8f3e1b2c-aaaa-bbbb-cccc-0123456789ab", ["GPU-8f3e1b2c-aaaa-bbbb-cccc-0123456789ab"]),
])
def test_visible_gpus_follow_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch, value: str,
                                                  ids: list[str]) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
    assert _gpu.visible_gpus() == ids


def test_visible_gpus_ask_nvidia_smi_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    calls = []

    def fake(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="0\n1\n2\n", stderr="")

    monkeypatch.setattr(subprocess, "run", fake)
    assert _gpu.visible_gpus() == ["0", "1", "2"]
    assert calls[0][:2] == ["nvidia-smi", "--query-gpu=index"]


def test_no_gpu_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch, no_nvidia_smi) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert _gpu.visible_gpus() == []


def test_trials_needing_a_gpu_where_there_is_none_are_refused(
        monkeypatch: pytest.MonkeyPatch, no_nvidia_smi) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    spec = make_spec(trial_gpu_number=1)
    message = ("trial_gpu_number is 1 but no GPU was found; set training_service.gpu_indices "
               "or trial_gpu_number: 0")
    with pytest.raises(SpecError) as caught:
        local_backend(spec)
    assert str(caught.value) == message
    with pytest.raises(SpecError) as caught:
        ray_backend(spec)
    assert str(caught.value) == message


def test_more_gpus_per_trial_than_there_are_is_refused() -> None:
    with pytest.raises(SpecError, match=r"trial_gpu_number is 3 but only 2 GPUs are available"):
        local_backend(make_spec(trial_gpu_number=3, training_service={"gpu_indices": [0, 1]}))


def test_busy_gpus_are_skipped_unless_use_active_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {"--query-compute-apps=gpu_uuid": "GPU-b\n",
               "--query-gpu=index,uuid": "0, GPU-a\n1, GPU-b\n"}

    def fake(command, **kwargs):
        return subprocess.CompletedProcess(command, 0, stdout=outputs[command[1]], stderr="")

    monkeypatch.setattr(subprocess, "run", fake)
    assert _gpu.trial_gpus(1, [0, 1], use_active_gpu=False) == ["0"]
    assert _gpu.trial_gpus(1, [0, 1], use_active_gpu=True) == ["0", "1"]
    with pytest.raises(SpecError, match="use_active_gpu: true"):
        _gpu.trial_gpus(1, [1], use_active_gpu=False)


def test_slots_never_give_a_gpu_to_more_trials_than_allowed() -> None:
    slots = GpuSlots(["0", "1"], per_trial=1)
    assert slots.capacity == 2
    assert (slots.acquire(1), slots.acquire(2), slots.acquire(3)) == (["0"], ["1"], None)
    slots.release(1)
    assert slots.acquire(3) == ["0"]
    slots.release(99)  # holds nothing: nothing happens


def test_slots_share_gpus_up_to_max_trial_number_per_gpu() -> None:
    slots = GpuSlots(["0", "1"], per_trial=1, per_gpu=2)
    assert slots.capacity == 4
    held = [slots.acquire(n) for n in range(5)]
    assert held[4] is None
    assert sorted(g for ids in held[:4] for g in ids) == ["0", "0", "1", "1"]
    assert held[:2] == [["0"], ["1"]]  # the least used GPU first


def test_slots_give_several_distinct_gpus_per_trial() -> None:
    slots = GpuSlots(["0", "1", "2"], per_trial=2)
    assert slots.capacity == 1
    first = slots.acquire(1)
    assert len(set(first)) == 2 and slots.acquire(2) is None


def test_local_backend_runs_as_many_trials_as_the_gpus_hold() -> None:
    spec = make_spec(trial_gpu_number=1, training_service={"gpu_indices": [0, 1]})
    backend = local_backend(spec)
    assert isinstance(backend, LocalBackend)
    assert (backend.capacity, backend.fresh_workers, backend.gpus.ids) == (2, True, ["0", "1"])
    shared = local_backend(make_spec(trial_gpu_number=1, training_service={
        "gpu_indices": [0, 1], "max_trial_number_per_gpu": 2}))
    assert shared.capacity == 3  # 4 slots, 3 trials at once
    cpu = local_backend(make_spec(training_service={"cpus_per_trial": 2}))
    assert (cpu.capacity, cpu.gpus, cpu.threads, cpu.fresh_workers) == (3, None, 2, False)


def test_ray_backend_asks_ray_for_the_trial_resources() -> None:
    backend = ray_backend(make_spec(trial_gpu_number=1, training_service={
        "platform": "ray", "gpu_indices": [0, 1], "cpus_per_trial": 2}))
    assert isinstance(backend, RayBackend)
    assert (backend.cpus_per_trial, backend.gpus_per_trial) == (2, 1.0)
    assert (backend.local_gpus, backend.capacity) == (["0", "1"], 2)
    cluster = ray_backend(make_spec(trial_gpu_number=1, training_service={
        "platform": "ray", "address": "auto"}))  # the cluster says which GPUs there are
    assert (cluster.address, cluster.local_gpus, cluster.capacity) == ("auto", [], 3)
    assert ray_gpus_per_trial(0) == 0 and ray_gpus_per_trial(2, 2) == 2
    assert ray_gpus_per_trial(1, 4) == 0.25

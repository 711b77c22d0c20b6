"""A tiny model space whose `do` choice says what the trial does, for the backend tests.

Imported by path and pickled by value (like a user's script), so workers need not import it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import OrderedDict
from typing import Any

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper, report_intermediate_result
from nas_cli.evaluator._function import FunctionEvaluator

DOES = ["ok", "stream", "raise", "sleep", "exit", "kill", "gpu", "log", "files", "oom",
        "cuda_oom", "report"]
BIG = (16 << 20) + 1  # just over the size a Ray trial's file travels back in one piece


@model_wrapper
class Behaviors(nn.Module):
    """Linear(2, width) then a do-nothing choice that names the trial's behavior."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, nn.ValueChoice([1, 2], label="width"))
        self.do = nn.LayerChoice(OrderedDict((name, nn.Identity()) for name in DOES), label="do")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.do(self.fc(x))


def arch(do: str, width: int = 1) -> dict[str, Any]:
    return {"width": width, "do": do}


def evaluate(model: torch.nn.Module, arch: dict[str, Any], record: str = "") -> dict[str, float]:
    """What `arch["do"]` says; "gpu" appends {gpus, start, end} to the `record` file; "log"
    prints a line and waits for the file `record + ".go"`; "stream" reports three values and
    waits for `record + ".streamed"`; "files" writes a small and a big
    file in its trial folder."""
    do = arch["do"]
    print(f"trial in pid {os.getpid()}: {do}", flush=True)
    with torch.no_grad():
        model(torch.ones(1, 2))
    if do == "stream":  # three values, then it waits for `record + ".streamed"`
        for step in range(3):
            report_intermediate_result(0.1 * (step + 1))
        _wait_for_file(f"{record}.streamed")
    elif do == "report":  # a minute of reports, ten a second (until early stopping ends it)
        for step in range(600):
            report_intermediate_result(step / 1000)
            time.sleep(0.1)
    elif do == "log":
        _wait_for_file(f"{record}.go")
    elif do == "files":
        folder = os.environ["NAS_TEST_TRIAL_DIR"]
        os.makedirs(os.path.join(folder, "ckpt"), exist_ok=True)
        with open(os.path.join(folder, "ckpt", "small.pt"), "wb") as handle:
            handle.write(b"small")
        with open(os.path.join(folder, "big.pt"), "wb") as handle:
            handle.write(bytes(range(256)) * (BIG // 256) + b"!")
    elif do == "oom":
        buffer = bytearray(1 << 62)
        return {"default": float(len(buffer))}
    elif do == "cuda_oom":
        raise torch.cuda.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 1 has a total capacity of "
            "79.15 GiB of which 1.06 GiB is free. Including non-PyTorch memory, this process "
            "has 78.09 GiB memory in use. Of the allocated memory 77.50 GiB is allocated by "
            "PyTorch.")
    elif do == "raise":
        raise ValueError("width 1 diverged")
    elif do == "sleep":
        time.sleep(60)
    elif do == "exit":
        os._exit(3)
    elif do == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif do == "gpu":
        start = time.time()
        time.sleep(0.8)
        line = {"gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start,
                "end": time.time(), "threads": torch.get_num_threads(),
                "device": os.environ.get("NAS_TEST_DEVICE")}
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    return {"default": float(arch["width"]), "threads": float(torch.get_num_threads()),
            "pid": float(os.getpid())}


def _wait_for_file(path: str, limit_s: float = 60) -> None:
    """Until the test creates `path` (at most `limit_s`, so a failing test cannot hang)."""
    deadline = time.monotonic() + limit_s
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


class RecordingEvaluator(FunctionEvaluator):
    """A function evaluator that also tells the function which device the trial was given."""

    def evaluate(self, model: Any, arch: dict[str, Any], *, device: str = "cpu",
                 **kwargs: Any) -> dict[str, float]:
        os.environ["NAS_TEST_DEVICE"] = device
        os.environ["NAS_TEST_TRIAL_DIR"] = str(kwargs.get("trial_dir"))
        return super().evaluate(model, arch, device=device, **kwargs)


def visible_gpu(model: torch.nn.Module) -> dict[str, float]:
    """For end-to-end runs with `trial_gpu_number: 1`: the one GPU id the trial sees."""
    return {"default": 1.0, "gpu": float(os.environ["CUDA_VISIBLE_DEVICES"])}

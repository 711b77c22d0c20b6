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

DOES = ["ok", "stream", "raise", "sleep", "exit", "kill", "gpu"]


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
    """What `arch["do"]` says; "gpu" appends {gpus, start, end} to the `record` file."""
    do = arch["do"]
    with torch.no_grad():
        model(torch.ones(1, 2))
    if do == "stream":
        for step in range(3):
            report_intermediate_result(0.1 * (step + 1))
            time.sleep(0.4 if step < 2 else 2.0)  # the last value arrives well before the end
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
    return {"default": float(arch["width"]), "threads": float(torch.get_num_threads())}


class RecordingEvaluator(FunctionEvaluator):
    """A function evaluator that also tells the function which device the trial was given."""

    def evaluate(self, model: Any, arch: dict[str, Any], *, device: str = "cpu",
                 **kwargs: Any) -> dict[str, float]:
        os.environ["NAS_TEST_DEVICE"] = device
        return super().evaluate(model, arch, device=device, **kwargs)


def visible_gpu(model: torch.nn.Module) -> dict[str, float]:
    """For end-to-end runs with `trial_gpu_number: 1`: the one GPU id the trial sees."""
    return {"default": 1.0, "gpu": float(os.environ["CUDA_VISIBLE_DEVICES"])}

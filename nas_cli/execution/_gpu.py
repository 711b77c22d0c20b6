"""Which GPUs trials may use, and which trial holds which (no torch import: the driver only
reads CUDA_VISIBLE_DEVICES and `nvidia-smi`).

A GPU id is what CUDA_VISIBLE_DEVICES takes: an nvidia-smi index ("0") or a UUID ("GPU-...").
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Sequence

from nas_cli.errors import SpecError

_GPU_ID = re.compile(r"^(\d+|GPU-[0-9a-fA-F-]+|MIG-[\w/-]+)$")


def _nvidia_smi(*query: str) -> list[list[str]]:
    """Rows of `nvidia-smi --query-...=... --format=csv,noheader`; [] without a driver."""
    try:
        result = subprocess.run(["nvidia-smi", *query, "--format=csv,noheader,nounits"],
                                capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [[cell.strip() for cell in line.split(",")]
            for line in result.stdout.splitlines() if line.strip()]


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES when set (CUDA stops at the first
    invalid entry, so do we), else every GPU `nvidia-smi` lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = []
        for token in (t.strip() for t in env.split(",")):
            if not _GPU_ID.match(token):
                break
            ids.append(token)
        return ids
    return [row[0] for row in _nvidia_smi("--query-gpu=index") if row and row[0].isdigit()]


def busy_gpus() -> set[str]:
    """GPUs (by index and by UUID) on which some process computes now."""
    uuids = {row[0] for row in _nvidia_smi("--query-compute-apps=gpu_uuid") if row}
    busy = set(uuids)
    for row in _nvidia_smi("--query-gpu=index,uuid"):
        if len(row) == 2 and row[1] in uuids:
            busy.add(row[0])
    return busy


def trial_gpus(per_trial: int, gpu_indices: Sequence[int] | None = None,
               use_active_gpu: bool = True) -> list[str]:
    """The GPU ids trials may share out (`training_service.gpu_indices`, else all there are).

    Raises a SpecError when trials need GPUs and there are not enough."""
    ids = [str(i) for i in gpu_indices] if gpu_indices is not None else visible_gpus()
    if not ids:
        raise SpecError(f"trial_gpu_number is {per_trial} but no GPU was found; set "
                        "training_service.gpu_indices or trial_gpu_number: 0")
    if not use_active_gpu:
        busy = busy_gpus()
        idle = [i for i in ids if i not in busy]
        if not idle:
            raise SpecError(f"trial_gpu_number is {per_trial} but every GPU ({', '.join(ids)}) "
                            "runs other processes; set training_service.use_active_gpu: true "
                            "to share them")
        ids = idle
    if per_trial > len(ids):
        raise SpecError(f"trial_gpu_number is {per_trial} but only {len(ids)} GPU"
                        f"{'s are' if len(ids) > 1 else ' is'} available ({', '.join(ids)})")
    return ids


class GpuSlots:
    """Hands each trial `per_trial` distinct GPUs, never more than `per_gpu` trials on one GPU.

    >>> slots = GpuSlots(["0", "1"], per_trial=1)
    >>> slots.acquire(7), slots.acquire(8), slots.acquire(9)
    (['0'], ['1'], None)
    """

    def __init__(self, ids: Sequence[str], per_trial: int, per_gpu: int = 1):
        if per_trial < 1 or per_trial > len(ids):
            raise ValueError(f"cannot give {per_trial} GPUs per trial out of {list(ids)}")
        self.ids = list(ids)
        self.per_trial = per_trial
        self.per_gpu = per_gpu
        self._users = {gpu: 0 for gpu in self.ids}
        self._held: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """How many trials can hold GPUs at once."""
        return len(self.ids) * self.per_gpu // self.per_trial

    def acquire(self, number: int) -> list[str] | None:
        """The least used GPUs with room for trial `number`, or None when it must wait."""
        with self._lock:
            free = [g for g in self.ids if self._users[g] < self.per_gpu]
            if len(free) < self.per_trial:
                return None
            chosen = sorted(free, key=lambda g: self._users[g])[:self.per_trial]
            for gpu in chosen:
                self._users[gpu] += 1
            self._held[number] = chosen
            return list(chosen)

    def release(self, number: int) -> None:
        with self._lock:
            for gpu in self._held.pop(number, []):
                self._users[gpu] -= 1


def trial_env(gpus: Sequence[str]) -> dict[str, str]:
    """The environment a trial holding `gpus` runs with."""
    return {"CUDA_VISIBLE_DEVICES": ",".join(gpus)}

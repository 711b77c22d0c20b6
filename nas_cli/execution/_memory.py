"""A trial's memory: its peak, the optional `max_trial_memory` limit, and reading an
out-of-memory failure as one (a MemoryError, torch's allocator, CUDA, the kernel's OOM killer).

Linux only where it reads /proc and cgroups; elsewhere the peak is unknown and no limit is set.
No torch import at module level: the driver uses the parts that read counters.
"""

from __future__ import annotations

import contextlib
import re
import resource
from collections.abc import Iterator
from pathlib import Path

GIB = 1 << 30


def gib(size: int | None) -> str:
    """3_400_000_000 -> '3.2 GiB' (None -> 'unknown')."""
    if size is None:
        return "unknown"
    return f"{size / GIB:.1f} GiB"


def reset_peak() -> None:
    """Start counting this process's peak resident memory afresh (a warm worker's new trial)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory(pid: int | str = "self") -> int | None:
    """The peak resident memory (VmHWM) of a process in bytes, since start or `reset_peak`."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@contextlib.contextmanager
def memory_limit(size: int | None) -> Iterator[None]:
    """Cap this process's data memory at `size` bytes while the block runs (RLIMIT_DATA: the
    heap and every private writable mapping, tensors included; unlike RLIMIT_AS it leaves out
    the shared libraries and the address space CUDA reserves). Past it, allocations fail
    (MemoryError, or torch's "can't allocate memory") instead of the machine swapping or the
    kernel killing a process."""
    if not size:
        yield
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        wanted = size if hard == resource.RLIM_INFINITY else min(size, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
    except (OSError, ValueError):  # not allowed here: run without the limit
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


_CPU_ALLOCATOR = re.compile(r"can't allocate memory|Cannot allocate memory|out of memory", re.I)


def out_of_memory_device(exc: BaseException, device: str = "cpu") -> str | None:
    """'cpu' or 'cuda:N' when `exc` says that memory ran out there, else None."""
    if isinstance(exc, MemoryError):
        return "cpu"
    name = type(exc).__name__
    text = str(exc)
    if name == "OutOfMemoryError" or "CUDA out of memory" in text:  # torch.cuda.OutOfMemoryError
        gpu = re.search(r"GPU (\d+)", text)
        if gpu:
            return f"cuda:{gpu.group(1)}"
        return device if device.startswith("cuda") else "cuda"
    if isinstance(exc, RuntimeError) and "DefaultCPUAllocator" in text and \
            _CPU_ALLOCATOR.search(text):
        return "cpu"
    return None


def cuda_peak(device: str, exc: BaseException | None = None) -> int | None:
    """Peak memory torch allocated on `device` in this trial; failing that, what the CUDA
    error says this process held."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                return int(torch.cuda.max_memory_allocated(device if ":" in device else None))
        except Exception:  # noqa: BLE001 - a broken CUDA context after the error
            pass
    if exc is not None:
        held = re.search(r"this process has ([\d.]+) (GiB|MiB) memory in use", str(exc))
        if held:
            return int(float(held.group(1)) * (GIB if held.group(2) == "GiB" else 1 << 20))
    return None


def reset_cuda_peak(device: str) -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not device.startswith("cuda"):
        return
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()
    except Exception:  # noqa: BLE001 - only a statistic
        pass


def out_of_memory_reason(device: str, peak: int | None, limit: int | None = None) -> str:
    """'out of memory (peak 3.2 GiB)', with the device when it is a GPU and the limit when one
    was set."""
    where = f" on {device}" if device != "cpu" else ""
    detail = f"peak {gib(peak)}"
    if limit and device == "cpu":
        detail += f"; max_trial_memory is {gib(limit)}"
    return f"out of memory{where} ({detail})"


def oom_kills() -> int | None:
    """How many processes of this cgroup the kernel's OOM killer has ended so far (cgroup v2
    `memory.events`, or v1 `memory.oom_control`); None where no counter is readable."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidates += [Path("/sys/fs/cgroup", path.lstrip("/"), "memory.events"),
                           Path("/sys/fs/cgroup/memory.events")]
        elif "memory" in controllers.split(","):
            candidates += [Path("/sys/fs/cgroup/memory", path.lstrip("/"), "memory.oom_control"),
                           Path("/sys/fs/cgroup/memory/memory.oom_control")]
    for candidate in candidates:
        try:
            text = candidate.read_text()
        except OSError:
            continue
        found = re.search(r"^oom_kill (\d+)$", text, re.M)
        if found:
            return int(found.group(1))
    return None

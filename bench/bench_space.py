"""Model-space overhead on the DARTS-like space (search_spaces/darts.py, defaults).

Times discovering the space (building every candidate and counting, discovery cache cleared)
and freezing one architecture (cache cleared too, as in a fresh trial process: discovery to
validate, then the build), against baselines measured in the same process: the same network
written with torch.nn only (`HandBuilt`, same parameters; the ratios, in CPU time, are against
it) and the frozen model built under `fixed_arch` without validation (the user's code still
builds every candidate and drops the others, as in NNI). Targets: under 1 s each.

Run: python -m bench.bench_space. `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPEATS = 9
TARGET_S = 1.0
DARTS_PATH = Path(__file__).resolve().parents[1] / "search_spaces" / "darts.py"


def _load_darts() -> type[torch.nn.Module]:
    name = "_bench_darts_space"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DARTS_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].DartsNet


def _timings(runs: dict[str, Callable[[], Any]],
             repeats: int = REPEATS) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(wall, cpu) seconds per run, interleaved: each round runs every job in rotating order, so
    the jobs of one round share the machine's noise; the first round is a warm-up. On one
    thread CPU time measures the same work as wall time and stays steady on a shared machine."""
    names = list(runs)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats + 1):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            w0, c0 = time.perf_counter(), time.process_time()
            runs[name]()
            if round_:
                cpu[name].append(time.process_time() - c0)
                wall[name].append(time.perf_counter() - w0)
    return wall, cpu


class HandBuilt(torch.nn.Module):
    """DartsNet for one architecture written with torch.nn only: the chosen ops and nothing else."""

    def __init__(self, arch: dict[str, Any], channels: int = 8, num_cells: int = 2,
                 num_nodes: int = 4, num_classes: int = 10):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))
        prev_prev, prev = channels, channels
        self.cells = nn.ModuleList()
        for _ in range(num_cells):
            cell = nn.Module()
            cell.pre0 = _relu_conv_bn(prev_prev, channels)
            cell.pre1 = _relu_conv_bn(prev, channels)
            cell.nodes = nn.ModuleList()
            for i in range(num_nodes):
                node = nn.Module()
                node.chosen = arch[f"node{i}/inputs"]
                node.op0 = _op(arch[f"node{i}/op0"], channels)
                node.op1 = _op(arch[f"node{i}/op1"], channels)
                cell.nodes.append(node)
            self.cells.append(cell)
            prev_prev, prev = prev, num_nodes * channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            states = [cell.pre0(s0), cell.pre1(s1)]
            for node in cell.nodes:
                a, b = (states[i] for i in node.chosen)
                states.append(node.op0(a) + node.op1(b))
            s0, s1 = s1, torch.cat(states[2:], dim=1)
        return self.classifier(self.pool(s1).flatten(1))


class _Zero(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _relu_conv_bn(in_ch: int, out_ch: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(in_ch, out_ch, 1, bias=False),
                               torch.nn.BatchNorm2d(out_ch))


def _op(name: str, c: int) -> torch.nn.Module:
    nn = torch.nn
    if name in ("sep_conv_3x3", "dil_conv_3x3"):
        d = 1 if name == "sep_conv_3x3" else 2
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=d, dilation=d, groups=c,
                                                  bias=False),
                             nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return nn.Identity() if name == "skip_connect" else _Zero()


def main() -> list[tuple[str, float, str]]:
    """Times discovery, freezing (cold and warm discovery cache) and the plain build."""
    from nas_cli import fixed_arch, freeze, search_space
    from nas_cli.space import _discover

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    darts = _load_darts()
    space = search_space(darts)
    arch = space.sample(random.Random(0))

    def discover() -> None:
        _discover._CACHE.clear()
        search_space(darts)

    def freeze_cold() -> None:  # a fresh trial process: discovery (to validate) + build
        _discover._CACHE.clear()
        freeze(darts, arch)

    def freeze_warm() -> None:  # discovery cached: validate + build
        freeze(darts, arch)

    def fixed_build() -> None:  # no validation: the user's code under fixed_arch only
        with fixed_arch(arch, _validated=True):
            darts()

    frozen, reference = freeze(darts, arch), HandBuilt(arch)
    params = sum(p.numel() for p in frozen.parameters())
    reference.load_state_dict(frozen.state_dict())  # same names and shapes, or it raises
    x = torch.randn(2, 1, 8, 8)
    if not torch.allclose(reference.eval()(x), frozen.eval()(x)):
        raise RuntimeError("bench_space.HandBuilt no longer matches search_spaces/darts.py")

    wall, cpu = _timings({
        "hand-built torch": lambda: HandBuilt(arch),
        "fixed_arch build": fixed_build,
        "discover": discover,
        "freeze": freeze_cold,
        "freeze (cached space)": freeze_warm,
    })
    torch.set_num_threads(threads)
    base = cpu["hand-built torch"]
    median = {name: statistics.median(t) for name, t in wall.items()}
    ratio = {name: statistics.median(a / b for a, b in zip(t, base)) for name, t in cpu.items()}
    print(f"DARTS-like space: {len(space.decisions)} decisions, {space.size:,} architectures; "
          f"frozen model {params:,} parameters; median of {REPEATS} interleaved rounds, 1 thread")
    print(f"{'':<22} {'wall ms':>8} {'min ms':>8} {'cpu ms':>8} {'x hand-built (cpu)':>19}")
    for name, t in wall.items():
        print(f"{name:<22} {1e3 * median[name]:>8.2f} {1e3 * min(t):>8.2f} "
              f"{1e3 * statistics.median(cpu[name]):>8.2f} {ratio[name]:>19.2f}")
    target = f"< {TARGET_S:g} s"
    return [
        ("space: discover DARTS (s)", median["discover"], target),
        ("space: freeze DARTS arch, cold (s)", median["freeze"], target),
        ("space: discover / hand-built", ratio["discover"], "ratio, info"),
        ("space: freeze / hand-built", ratio["freeze"], "ratio, info"),
    ]


if __name__ == "__main__":
    rows = main()
    print()
    print(f"{'benchmark':<36} {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<36} {value:>10.4f}  {target}")

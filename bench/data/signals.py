"""A procedurally generated 1-D signal task where the architecture matters (offline, seeded).

Each signal (1 x 48) is Gaussian noise with two "doublets" (a sample pushed up, the next one
down) and two single-sample distractors. The class is the distance between the doublets:
2, 5, 8 or 11 samples. A network sees a pair only if its receptive field spans it, so depth,
kernel size and dilation decide which classes it can tell apart; width decides how well it
picks doublets out of the noise. Trained the same way, architectures of `SignalNet` range from
chance (0.25) to about 0.7.

    from bench.data.signals import signal_data
    train, val = signal_data()          # TensorDatasets: 2000 and 1000 signals
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

LENGTH = 48
DISTANCES = (2, 5, 8, 11)
NOISE = 0.6


def make_signals(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` signals (n, 1, LENGTH) and their classes (n,), the same for the same seed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, LENGTH, generator=g) * NOISE
    y = torch.randint(0, len(DISTANCES), (n,), generator=g)
    rows = torch.arange(n)
    distance = torch.tensor(DISTANCES)[y]
    start = (torch.rand(n, generator=g) * (LENGTH - distance - 5)).long() + 2
    for offset in (torch.zeros_like(distance), distance):
        amplitude = 1.0 + 0.5 * torch.rand(n, generator=g)
        x[rows, 0, start + offset] += amplitude
        x[rows, 0, start + offset + 1] -= amplitude
    for _ in range(2):
        where = torch.randint(0, LENGTH, (n,), generator=g)
        sign = torch.randint(0, 2, (n,), generator=g) * 2 - 1
        x[rows, 0, where] += (1.0 + torch.rand(n, generator=g)) * sign
    return x, y


def signal_data(n_train: int = 2000, n_val: int = 1000, seed: int = 0):
    """(train, val) TensorDatasets (a dataset factory for a spec: `bench.data.signals:signal_data`)."""
    x, y = make_signals(n_train, seed)
    xv, yv = make_signals(n_val, seed + 1)
    return TensorDataset(x, y), TensorDataset(xv, yv)

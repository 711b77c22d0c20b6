"""Where a one-shot experiment keeps its supernet (no torch: the driver and readers use it).

    <experiment>/supernet/{checkpoint.pt, progress.json, metrics.csv, trial.log}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUPERNET_DIR = "supernet"
CHECKPOINT = "checkpoint.pt"   # weights, optimizer, random states, history (atomic)
PROGRESS = "progress.json"     # {"epochs_done", "epochs", "params", "history"} for readers


def read_progress(folder: Path) -> dict[str, Any]:
    """What the last finished epoch left in `folder/progress.json` ({} before the first)."""
    try:
        data = json.loads((Path(folder) / PROGRESS).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

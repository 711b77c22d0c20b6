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


def collapse_warning(param_free: dict[str, Any] | None) -> str | None:
    """A line when more than half of the derived architecture's operation choices hold no
    parameters (`param_free` as training writes it), else None."""
    if not param_free or not param_free.get("ops"):
        return None
    count, ops = param_free.get("count", 0), param_free["ops"]
    if count * 2 <= ops:
        return None
    chosen = ", ".join(f"{name} x{n}" for name, n in param_free.get("chosen", {}).items())
    return (f"the derived architecture is dominated by parameter-free operations ({count} of "
            f"{ops} operation choices: {chosen}), the known collapse of DARTS-like methods; "
            "expect a poor retrained accuracy: compare with enas or gumbel_darts, or train "
            "fewer supernet_epochs")

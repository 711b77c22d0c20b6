"""One-shot search: a weight-sharing supernet built from the unchanged model space, trained
once, then searched on the weights each sub-network inherits (SPOS).

| name         | what                                                              |
|--------------|-------------------------------------------------------------------|
| `Supernet`   | the space with every candidate; `activate(arch)`, `subnet(arch)`  |
| mixed modules| `MixedLayer`, `MixedInput`, `MixedRepeat`, `MixedCell`, `MixedOperation`, `MixedCopies` |
| `OneShotPhases` | runs a one-shot spec on the engine: supernet, search, retrain |
"""

from nas_cli.oneshot._mixed import (
    ActivePath,
    Mixed,
    MixedCell,
    MixedCopies,
    MixedInput,
    MixedLayer,
    MixedOperation,
    MixedRepeat,
)
from nas_cli.oneshot._phases import OneShotPhases
from nas_cli.oneshot._supernet import SINGLE_PATH, Supernet, check_supernet

__all__ = ["SINGLE_PATH", "ActivePath", "Mixed", "MixedCell", "MixedCopies", "MixedInput",
           "MixedLayer", "MixedOperation", "MixedRepeat", "OneShotPhases", "Supernet",
           "check_supernet"]

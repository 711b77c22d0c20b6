"""NNI 3.0's `nni.mutable` and its shortcuts (`nni.choice`, `nni.uniform`, ...) on nas-cli.

    from nas_cli.mutable import choice, uniform
    width = choice("width", [32, 64])         # a ValueChoice labelled "width"
    rate = uniform("dropout", 0.0, 0.5)       # a continuous decision

`choice`, `uniform`, `quniform`, `loguniform` and `qloguniform` are also `nas_cli.choice`, ...
so NNI code written as `nni.choice(...)` runs with `import nas_cli as nni`.
"""

from nas_cli.space import ValueChoiceX as MutableExpression
from nas_cli.space.nni import (
    UNSUPPORTED_MUTABLE,
    Categorical,
    Mutable,
    Numerical,
    Sample,
    choice,
    ensure_frozen,
    label_scope,
    loguniform,
    qloguniform,
    quniform,
    uniform,
)

globals().update(UNSUPPORTED_MUTABLE)


__all__ = ["Categorical", "Mutable", "MutableExpression", "Numerical", "Sample", "choice",
           "ensure_frozen", "label_scope", "loguniform", "qloguniform", "quniform", "uniform",
           *sorted(UNSUPPORTED_MUTABLE)]

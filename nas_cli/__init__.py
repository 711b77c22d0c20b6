"""nas-cli: multi-trial neural architecture search from one YAML file.

The model-space API (needs torch) is imported lazily, so `nas --help` and `nas status` stay
fast: `from nas_cli import model_wrapper` works as usual.
"""

from __future__ import annotations

from nas_cli._lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "model_wrapper": "nas_cli.space",
    "basic_unit": "nas_cli.space",
    "Mutator": "nas_cli.space",
    "freeze": "nas_cli.space",
    "fixed_arch": "nas_cli.space",
    "search_space": "nas_cli.space",
    "SearchSpace": "nas_cli.space",
    "report_intermediate_result": "nas_cli.trial_context",
    "report_final_result": "nas_cli.trial_context",
    "current_arch": "nas_cli.trial_context",
    # NNI's names, so that `import nas_cli as nni` runs NNI code (see nas_cli.mutable)
    "choice": "nas_cli.mutable",
    "uniform": "nas_cli.mutable",
    "quniform": "nas_cli.mutable",
    "loguniform": "nas_cli.mutable",
    "qloguniform": "nas_cli.mutable",
    "trace": "nas_cli.space.nni",
    "serialize": "nas_cli.space.nni",
    "serialize_cls": "nas_cli.space.nni",
}

__all__ = ["__version__", *_LAZY]

# NNI's experiment API: importing works, using it says to write a spec (see nas_cli.space.nni)
_LAZY.update(dict.fromkeys(("RetiariiExperiment", "RetiariiExeConfig", "NasExperiment",
                            "NasExperimentConfig", "FunctionalEvaluator", "debug_mutated_model"),
                           "nas_cli.space.nni"))
__getattr__ = lazy_getattr(__name__, _LAZY)

"""The bytes that carry a TrialPayload to workers, in two forms.

By reference to the user's .py files (imported by path in the worker under the driver's
private module name): tracebacks in trial logs then name the user's file and line. By value
(cloudpickle copies the code): for a worker that cannot see those files, a remote Ray node.
"""

from __future__ import annotations

import pickle
from typing import Any


def dump_payload(payload: Any, modules: list[tuple[str, str]]) -> bytes:
    import sys

    import cloudpickle

    loaded = [sys.modules[name] for name, _ in modules if name in sys.modules]
    for module in loaded:
        try:
            cloudpickle.unregister_pickle_by_value(module)
        except ValueError:
            pass
    by_reference = cloudpickle.dumps(payload)
    for module in loaded:
        cloudpickle.register_pickle_by_value(module)
    try:
        by_value = cloudpickle.dumps(payload)
    finally:
        for module in loaded:
            cloudpickle.unregister_pickle_by_value(module)
    return pickle.dumps({"modules": modules, "by_reference": by_reference, "by_value": by_value})


def load_payload(data: bytes) -> Any:
    """The payload, by reference when this process can import the user's files."""
    from pathlib import Path

    import cloudpickle

    from nas_cli._imports import file_module_name, import_file

    parts = pickle.loads(data)
    if not (isinstance(parts, dict) and "by_value" in parts):  # plain cloudpickle bytes
        return parts
    try:
        for name, path in parts["modules"]:
            if file_module_name(Path(path)) != name:  # the file sits elsewhere on this node
                raise FileNotFoundError(path)
            import_file(Path(path))
    except Exception:  # noqa: BLE001 - not importable here: use the copy of the code
        return cloudpickle.loads(parts["by_value"])
    return cloudpickle.loads(parts["by_reference"])

"""Shared fixtures: a temporary experiments folder, spec files pointing at the tiny test space,
the `nas` command run in-process, and the execution platform end-to-end tests run on.

    def test_something(nas, write_spec, tmp_path, exp_dir, platform):
        spec = write_spec(tmp_path, training_service={"platform": platform}, max_trial_number=2)
        code, out, err = nas("run", spec)

Helpers the fixtures wrap live in tests/helpers/ (importable as `helpers`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).parent) not in sys.path:  # `import helpers` under any import mode
    sys.path.insert(0, str(Path(__file__).parent))

from helpers.cli import make_spec, restored_signals  # noqa: E402

try:
    import ray  # noqa: F401
    HAVE_RAY = True
except ImportError:  # the `ray` extra is optional
    HAVE_RAY = False

# Platforms every end-to-end test runs on.
PLATFORMS = ["local", pytest.param("ray", marks=pytest.mark.skipif(
    not HAVE_RAY, reason="ray is not installed (pip install 'nas-cli[ray]')"))]


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """nas-cli's cache folder (the study.db template, known spaces) lives in a temporary
    folder for the whole session, never under the real home; spawned processes inherit it."""
    folder = tmp_path_factory.mktemp("cache")
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture(scope="session")
def write_spec() -> Callable[..., Path]:
    """`write_spec(tmp_path, **overrides) -> Path` (see `make_spec`)."""
    return make_spec


@pytest.fixture
def exp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh experiments folder, also in NAS_EXPERIMENTS_DIR (it does not exist yet)."""
    root = tmp_path / "experiments"
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(root))
    return root


@pytest.fixture
def nas(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`nas(*args) -> (exit_code, stdout, stderr)`: the real command, in this process."""
    from nas_cli.cli import main

    def call(*args: Any) -> tuple[int, str, str]:
        capsys.readouterr()
        with restored_signals():
            code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@pytest.fixture(scope="session", params=PLATFORMS)
def platform(request: pytest.FixtureRequest) -> str:
    """The `training_service.platform` end-to-end specs run on (on "ray", each run starts and
    stops a private local Ray, as a user's `nas run` without an address does)."""
    return request.param


"""Reading an experiment is safe and light: `nas status` / `nas export` import neither torch
nor the user's code and unpickle nothing; experiment names and ids cannot reach outside the
experiments folder; files in an experiment folder are written atomically."""

from __future__ import annotations

import builtins
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import Finished, fault_spec, temp_files

# Runs `nas ARGS` in a fresh interpreter, then reports on stderr's last line what it loaded.
PROBE = r"""
import json, pickle, sys
unpickled = []
for name in ("load", "loads"):
    real = getattr(pickle, name)
    def spy(*args, _real=real, _name=name, **kwargs):
        unpickled.append(_name)
        return _real(*args, **kwargs)
    setattr(pickle, name, spy)
from nas_cli.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules}
               & {"torch", "cloudpickle", "lightning", "pytorch_lightning", "numpy"})
user = sorted(m for m, mod in list(sys.modules.items())
              if m.startswith("nas_user_") or "faults.py" in str(getattr(mod, "__file__", "")))
print(json.dumps({"code": code, "heavy": heavy, "user": user, "unpickled": unpickled}),
      file=sys.stderr)
"""

READERS = [
    ["status"], ["status", "--json"], ["status", "{id}"], ["status", "{id}", "--json"],
    ["export", "{id}"], ["export", "{id}", "--format", "json"],
    ["export", "{id}", "--format", "code"], ["export"],
]


@pytest.fixture(scope="module")
def probed(faults_exp: Finished, rel_root: Path) -> dict[str, dict]:
    """Each reader run once, in its own interpreter, on the faults experiment."""
    env = dict(os.environ, NAS_EXPERIMENTS_DIR=str(rel_root))
    found = {}
    for args in READERS:
        argv = [a.format(id=faults_exp.path.name) for a in args]
        done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, cwd=rel_root.parent,
                              capture_output=True, text=True, timeout=60)
        report = json.loads(done.stderr.strip().splitlines()[-1])
        found[" ".join(args)] = {**report, "stdout": done.stdout, "stderr": done.stderr}
    return found


@pytest.mark.parametrize("args", [" ".join(a) for a in READERS])
def test_readers_import_no_torch_no_user_code_and_unpickle_nothing(probed, args):
    report = probed[args]
    assert report["code"] == 0, report["stderr"]
    assert report["heavy"] == []
    assert report["user"] == []
    assert report["unpickled"] == []


BAD_REFS = ["../x", "..", "/etc", "a/../../b", "..\\x", ".hidden", "../experiments"]


@pytest.mark.parametrize("command", ["status", "export", "resume", "stop"])
@pytest.mark.parametrize("ref", BAD_REFS)
def test_an_experiment_id_cannot_leave_the_experiments_folder(nas, faults_exp, rel_root,
                                                             monkeypatch, command, ref):
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(rel_root))
    code, out, err = nas(command, ref)
    assert code == 2
    assert err.startswith("error: invalid experiment id") and err.count("\n") == 1, err


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "/tmp/evil", "evil/..", "~root"])
def test_an_experiment_name_cannot_leave_the_experiments_folder(nas, tmp_path, exp_dir, name):
    spec = fault_spec(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = nas("run", spec, "--name", name)
    assert code == 2
    assert err == (f"error: invalid experiment name {name!r}: use letters, digits, '.', '_' "
                   "and '-' only\n")
    assert not exp_dir.exists() or not any(exp_dir.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_no_temporary_file_is_left_in_any_experiment(faults_exp, live_exp, rel_root):
    assert temp_files(rel_root) == []


def test_the_driver_writes_every_experiment_file_atomically(nas, tmp_path, exp_dir,
                                                           monkeypatch):
    written: list[str] = []
    real_io_open, real_open = io.open, builtins.open

    def spy(real):
        def opened(file, mode="r", *args, **kwargs):
            path = Path(os.fspath(file)) if isinstance(file, str | os.PathLike) else None
            if path is not None and any(c in mode for c in "wax+") and exp_dir in path.parents:
                written.append(str(path.relative_to(exp_dir)))
            return real(file, mode, *args, **kwargs)
        return opened

    monkeypatch.setattr(io, "open", spy(real_io_open))
    monkeypatch.setattr(builtins, "open", spy(real_open))
    spec = fault_spec(tmp_path, reps=2, max_trial_number=2, trial_concurrency=1)
    code, out, err = nas("run", spec)
    assert code == 0, err
    assert written == []  # every write went through nas_cli._files (mkstemp + os.replace)

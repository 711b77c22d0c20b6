"""Experiments run once and shared by the CLI tests (each `nas run` starts workers that import
torch: seconds each). All live in one experiments folder, in this order:

- `grid_exp`   "alpha": grid over the 6-architecture Tiny space, 2 at a time, max 20 trials;
               one architecture raises ValueError.
- `random_exp` "beta":  random with dedup, minimizing `loss`, max 20 trials, run with
               `--name beta --concurrency 1 --exp-dir ROOT`.
- `short_exp`  "alpha" again (so the name means the latest): `--max-trials 2 --concurrency 2`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import Ran, make_spec, run_new


@pytest.fixture(scope="package")
def cli_root(tmp_path_factory: pytest.TempPathFactory, platform: str):
    """The experiments folder the shared experiments live in (NAS_EXPERIMENTS_DIR meanwhile);
    one per platform, so each platform's tests see only their own experiments."""
    root = tmp_path_factory.mktemp(f"cli-{platform}") / "experiments"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NAS_EXPERIMENTS_DIR", str(root))
        yield root


@pytest.fixture(scope="package")
def specs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("specs")


@pytest.fixture(scope="package")
def grid_exp(cli_root: Path, specs_dir: Path, platform: str) -> Ran:
    spec = make_spec(
        specs_dir, "alpha", strategy={"name": "grid", "seed": 3}, trial_concurrency=2,
        max_trial_number=20, training_service={"platform": platform},
        evaluator={"kwargs": {"fail_when": {"hidden": 8, "act": 1}}},
    )
    return run_new(cli_root, spec)


@pytest.fixture(scope="package")
def random_exp(grid_exp: Ran, cli_root: Path, specs_dir: Path, platform: str) -> Ran:
    spec = make_spec(
        specs_dir, "random", strategy={"name": "random", "seed": 1, "dedup": True},
        objective={"metric": "loss"}, trial_concurrency=2, max_trial_number=20,
        training_service={"platform": platform},
    )
    return run_new(cli_root, spec, "--name", "beta", "--concurrency", "1", "--exp-dir", cli_root)


@pytest.fixture(scope="package")
def short_exp(random_exp: Ran, cli_root: Path, specs_dir: Path, platform: str) -> Ran:
    spec = make_spec(specs_dir / "again", "alpha", trial_concurrency=1, max_trial_number=20,
                     training_service={"platform": platform})
    return run_new(cli_root, spec, "--max-trials", "2", "--concurrency", "2")


@pytest.fixture(scope="package")
def all_exps(grid_exp: Ran, random_exp: Ran, short_exp: Ran) -> list[Ran]:
    """The three shared experiments, oldest first."""
    return [grid_exp, random_exp, short_exp]

"""The example specs of the hub (specs/hub_*.yaml): `nas space` prints each one's exact size,
their sampled architectures run on 8x8 digits, and one of them runs end to end."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import yaml

from nas_cli import freeze, hub, search_space

SPECS = Path(__file__).resolve().parents[2] / "specs"
CELL_INPUTS_5 = (2 * 3 * 4 * 5 * 6) ** 2
CELL_INPUTS_4 = (2 * 3 * 4 * 5) ** 2
MB = sum(18 ** d for d in range(1, 5)) ** 2 * sum(36 ** d for d in range(1, 5)) ** 3

SIZES = {  # the spaces as the specs shrink them (widths (8, 12), 3 or 6 cells, ...)
    "nasbench201": 5 ** 6,
    "nasbench101": 18_766_576,                   # as the default space: the cell is the same
    "nasnet": 2 * 2 * 13 ** 20 * CELL_INPUTS_5 ** 2,
    "enas": 2 * 2 * 5 ** 20 * CELL_INPUTS_5 ** 2,
    "amoebanet": 2 * 2 * 8 ** 20 * CELL_INPUTS_5 ** 2,
    "pnas": 2 * 2 * 8 ** 20 * CELL_INPUTS_5 ** 2,
    "darts": 2 * 2 * 7 ** 16 * CELL_INPUTS_4 ** 2,
    "proxylessnas": 6 * sum(6 ** d for d in range(1, 5)) ** 5,
    "mobilenetv3": 2 ** 8 * 2 * 3 * MB,          # 2 width multipliers instead of 7
    "shufflenet": 4 ** 20,
    "autoformer": 2 * (4 ** 2 + 4 ** 3),          # embed_dim x (depth 2 or 3 of heads x ratio)
}


def test_every_hub_spec_is_listed():
    assert sorted(p.stem for p in SPECS.glob("hub_*.yaml")) == sorted(f"hub_{n}" for n in SIZES)


@pytest.mark.parametrize("name", SIZES)
def test_nas_space_prints_the_exact_size(nas, name):
    code, out, err = nas("space", SPECS / f"hub_{name}.yaml", "--json")
    assert code == 0, err
    assert json.loads(out)["size"] == SIZES[name]


@pytest.mark.parametrize("name", SIZES)
def test_a_sampled_architecture_runs_on_digits(name):
    model_space = yaml.safe_load((SPECS / f"hub_{name}.yaml").read_text())["model_space"]
    assert model_space["module"] == "nas_cli.hub"
    cls, kwargs = getattr(hub, model_space["class"]), model_space["init_kwargs"]
    model = freeze(cls, search_space(cls, kwargs).sample(random.Random(name)), **kwargs).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_nasbench201_spec_runs_end_to_end(nas, tmp_path):
    code, out, err = nas("run", SPECS / "hub_nasbench201.yaml", "--max-trials", "2",
                         "--exp-dir", tmp_path)
    assert code == 0, err
    (path,) = tmp_path.iterdir()
    assert f"experiment {path.name} done: 2 complete" in out
    results = json.loads((path / "results.json").read_text())
    assert results["name"] == "hub-nasbench201"
    for trial in results["trials"]:
        assert set(trial["arch"]) == {"cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3",
                                      "cell/2_3"}
        assert 0.0 <= trial["metric"] <= 1.0

"""The README's first run, shortened: the quickstart spec trains real CNNs on digits, offline."""

from __future__ import annotations

import json
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "specs" / "quickstart.yaml"


def test_quickstart_ranks_trained_architectures(nas, tmp_path, platform):
    override = tmp_path / "quickstart.yaml"
    text = SPEC.read_text().replace("../search_spaces/", f"{SPEC.parent.parent}/search_spaces/")
    override.write_text(text + f"training_service: {{platform: {platform}}}\n")
    code, out, err = nas("run", override, "--max-trials", "3", "--exp-dir", tmp_path / "exps")
    assert code == 0, err
    (path,) = (tmp_path / "exps").iterdir()
    assert f"experiment {path.name} done: 3 complete" in out
    results = json.loads((path / "results.json").read_text())
    assert results["name"] == "digits-quickstart"
    assert results["objective"] == {"metric": "val_acc", "mode": "maximize"}
    ranked = results["trials"]
    assert [t["rank"] for t in ranked] == [1, 2, 3]
    assert ranked[0]["metric"] >= ranked[-1]["metric"]
    assert ranked[0]["metric"] >= 0.9  # 3 epochs on digits
    assert set(ranked[0]["metrics"]) >= {"val_acc", "val_loss", "train_loss"}
    # one intermediate result per epoch, in the store as in results.json
    assert [step for step, _ in ranked[0]["intermediate"]] == [1, 2, 3]
    assert (path / "trials" / str(ranked[0]["trial"]) / "metrics.csv").exists()

"""NNI code with only its imports changed, through the real commands: `nas space` and `nas
trial` of an NNI 3.0 space (ModelSpace, nni.choice, a uniform dropout rate), `nas trial --arch`
with an architecture NNI wrote (its automatic labels), and one `nas run` of an NNI 2.x space
whose evaluator reports NNI's way (report_final_result, returning nothing)."""

from __future__ import annotations

import json
import textwrap

import pytest

SPACE = textwrap.dedent('''
    import torch
    import nas_cli as nni                       # was: import nni
    import nas_cli.nn as nn                     # was: import nni.nas.nn.pytorch as nn
    from nas_cli import model_wrapper           # was: from nni.retiarii import model_wrapper


    class Net3(nn.ModelSpace):                  # NNI 3.0
        def __init__(self):
            super().__init__()
            width = nni.choice("width", [4, 8])
            self.conv = nn.MutableConv2d(1, width, 3, padding=1)
            self.drop = nn.MutableDropout(nni.uniform("dropout", 0.0, 0.5))
            self.fc = nn.MutableLinear(width * 16, 1)

        def forward(self, x):
            return self.fc(self.drop(self.conv(x)).flatten(1))


    @model_wrapper
    class Net2(nn.Module):                      # NNI 2.x, automatic labels
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, nn.ValueChoice([4, 8]), 3, padding=1)
            self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()])
            self.fc = nn.Linear(64, 1)

        def forward(self, x):
            return self.fc(self.act(self.conv(x))[:, :4].flatten(1))


    def evaluate_model(model):                  # NNI's evaluator style
        model.eval()
        score = float(model(torch.ones(2, 1, 4, 4)).abs().mean()) + len(list(model.parameters()))
        nni.report_intermediate_result(score / 2)
        nni.report_final_result(score)          # returns nothing
''')


@pytest.fixture
def spec(tmp_path, write_spec):
    space = tmp_path / "nni_space.py"
    space.write_text(SPACE)

    def make(cls: str, **overrides):
        return write_spec(tmp_path, name=cls, model_space={"module": str(space), "class": cls},
                          evaluator={"function": f"{space}:evaluate_model"}, **overrides)

    return make


def test_space_and_trial_of_an_nni3_space_with_a_continuous_rate(nas, spec):
    code, out, err = nas("space", spec("Net3"), "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["size"] is None
    assert found["labels"]["dropout"]["distribution"] == {"low": 0.0, "high": 0.5}
    code, out, err = nas("trial", spec("Net3"), "--arch", '{"width": 8, "dropout": 0.125}')
    assert code == 0, err
    assert "  step 0: default=" in out and out.splitlines()[-1].startswith('metrics: {"default": ')


def test_trial_of_an_architecture_nni_wrote(nas, spec, tmp_path):
    arch = tmp_path / "exported.json"
    arch.write_text('{"model_1": 8, "model_2": "1"}')  # NNI's labels; a list index as a string
    code, out, err = nas("trial", spec("Net2"), "--arch", arch)
    assert code == 0, err
    assert out.splitlines()[0] == 'trial of Net2: {"valuechoice_1": 8, "layerchoice_1": 1}'


def test_unknown_labels_are_refused_or_dropped_with_a_warning(nas, spec):
    arch = '{"model_1": 8, "model_2": "1", "model_7": 3}'
    code, out, err = nas("trial", spec("Net2"), "--arch", arch)
    assert code == 2
    assert err.strip().endswith("unknown label 'model_7' (labels: valuechoice_1, layerchoice_1); "
                                "pass --allow-unknown-labels to ignore them")
    code, out, err = nas("trial", spec("Net2"), "--arch", arch, "--allow-unknown-labels")
    assert code == 0, err
    assert "warning: ignoring labels the space does not have: model_7" in err


def test_run_an_nni2_space_with_an_nni_style_evaluator(nas, spec, exp_dir):
    code, out, err = nas("run", spec("Net2", max_trial_number=3,
                                     strategy={"name": "random", "seed": 1}), "-q")
    assert code == 0, err
    [folder] = exp_dir.iterdir()
    results = json.loads((folder / "results.json").read_text())
    trials = results["trials"]
    assert len(trials) == 3 and all(t["status"] == "complete" for t in trials)
    for trial in trials:
        assert set(trial["arch"]) == {"valuechoice_1", "layerchoice_1"}
        assert trial["metric"] > 4  # the value given to report_final_result

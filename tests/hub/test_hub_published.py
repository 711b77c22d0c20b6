"""NNI's published architectures (the dicts of its hub's `load_searched_model`) freeze in our
spaces to models with NNI's parameter counts."""

from __future__ import annotations

import pytest

from nas_cli import hub
from nas_cli.errors import SpaceError

# NNI 3.0: sum(p.numel() for p in Space.load_searched_model(name).parameters()); the
# MobileNetV3-Small models and cream-481/604 from NNI 2.10 (NNI 3.0 refuses them: their depths
# exceed the depth range they are built with; see PUBLISHED[name].widen).
NNI_PARAMS = {
    "darts-v2": 3_349_342,
    "spos": 3_558_464,
    "acenas-m1": 4_093_864, "acenas-m2": 4_319_208, "acenas-m3": 4_076_448,
    "proxyless-cpu": 4_361_648, "proxyless-gpu": 7_119_848, "proxyless-mobile": 4_080_512,
    "mobilenetv3-large-100": 5_483_032, "mobilenetv3-small-050": 1_593_224,
    "mobilenetv3-small-075": 2_041_872, "mobilenetv3-small-100": 2_542_856,
    "cream-014": 2_673_096, "cream-043": 4_398_600, "cream-114": 4_410_120,
    "cream-287": 6_044_368, "cream-481": 7_713_360, "cream-604": 9_695_624,
    "autoformer-tiny": 5_867_944, "autoformer-small": 22_891_432, "autoformer-base": 53_691_688,
}


def test_every_published_architecture_is_checked():
    assert set(hub.PUBLISHED) == set(NNI_PARAMS)


@pytest.mark.parametrize("name", NNI_PARAMS)
def test_published_architecture_has_nnis_parameter_count(name):
    space = getattr(hub, hub.PUBLISHED[name].space)
    model = space.load_searched_model(name)
    assert sum(p.numel() for p in model.parameters()) == NNI_PARAMS[name]


@pytest.mark.parametrize(("name", "dropped"), [
    ("darts-v2", set()), ("acenas-m1", {"s7_depth"}), ("cream-014", {"s0_depth"}),
    ("mobilenetv3-small-100", set()),
])
def test_only_labels_nnis_space_lacks_are_dropped(name, dropped):
    space, init_kwargs, arch = hub.searched_architecture(name)
    assert set(hub.PUBLISHED[name].arch) - set(arch) == dropped
    assert space == hub.PUBLISHED[name].space
    assert init_kwargs == {**hub.PUBLISHED[name].init_kwargs, **hub.PUBLISHED[name].widen}


def test_published_lookups_fail_with_one_clear_line():
    with pytest.raises(SpaceError, match=r"no published architecture named 'darts-v3' \(known: darts-v2, spos,"):
        hub.load_searched_model("darts-v3")
    with pytest.raises(SpaceError, match=r"DARTS has no published architecture named 'spos' \(known: darts-v2\)"):
        hub.DARTS.load_searched_model("spos")
    with pytest.raises(SpaceError, match="pretrained weights are not shipped"):
        hub.load_searched_model("spos", pretrained=True)

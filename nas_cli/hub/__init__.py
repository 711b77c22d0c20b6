"""The model space hub: the spaces of NNI's hub, written with `nas_cli.nn`, same labels, same
sizes, and NNI's published architectures (`load_searched_model`).

    NasBench101, NasBench201                cell benchmarks (cells: nas_cli.nn.NasBench10xCell)
    NDS: NASNet, ENAS, AmoebaNet, PNAS, DARTS  the NASNet family of cell spaces
    ProxylessNAS, MobileNetV3Space          mobile inverted-residual spaces
    ShuffleNetSpace                         Single Path One-Shot (ShuffleNetV2 blocks)
    AutoFormer                              vision transformer

    from nas_cli.hub import DARTS, load_searched_model
    model = load_searched_model("darts-v2")       # DARTS.load_searched_model("darts-v2")
"""

from nas_cli.hub._autoformer import AutoFormer
from nas_cli.hub._mobilenetv3 import MobileNetV3Space
from nas_cli.hub._nasbench101 import NasBench101
from nas_cli.hub._nasbench201 import NasBench201
from nas_cli.hub._nasnet import DARTS, ENAS, NDS, PNAS, AmoebaNet, NASNet
from nas_cli.hub._proxylessnas import ProxylessNAS
from nas_cli.hub._published import PUBLISHED, load_searched_model, searched_architecture
from nas_cli.hub._shufflenet import ShuffleNetSpace

__all__ = [
    "DARTS", "ENAS", "NDS", "PNAS", "PUBLISHED", "AmoebaNet", "AutoFormer", "MobileNetV3Space",
    "NASNet", "NasBench101", "NasBench201", "ProxylessNAS", "ShuffleNetSpace",
    "load_searched_model", "searched_architecture",
]

"""ImageNet MobileNetV1: parameter count and stage shapes."""
import torch

from nd_mmdet.models.backbones import MobileNetV1
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)


def test_parameter_count_matches_published():
    model = MobileNetV1()
    params = sum(p.numel() for p in model.parameters()) + 1024 * 1000 + 1000
    assert abs(params / 4.23e6 - 1) < 0.02, params


def test_stage_shapes():
    model = MODELS.build(dict(_scope_='nd_mmdet', type='MobileNetV1',
                              out_indices=(0, 1, 2, 3)))
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 16, 16),
                                             (1, 256, 8, 8), (1, 512, 4, 4),
                                             (1, 1024, 2, 2)]
    assert model.stage_channels == (128, 256, 512, 1024)

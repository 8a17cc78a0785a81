"""CIFAR-100 backbone zoo: parameter counts, stage shapes, out_indices."""
import pytest
import torch

torch.set_num_threads(1)

from nd_mmdet.models.backbones import (BaseCifarBackbone,  # noqa: E402
                                       CifarMobileNetV2, CifarResNet,
                                       CifarResNet50, CifarShuffleNetV1,
                                       CifarShuffleNetV2, CifarWideResNet)
from nd_mmdet.registry import MODELS  # noqa: E402

# name: (class, kwargs, published params in M with a 100-way linear head,
#        embed_dim, (C, H) of every stage output for a 32x32 input)
ZOO = {
    'resnet20': (CifarResNet, dict(arch='resnet20'), 0.28, 64,
                 [(16, 32), (32, 16), (64, 8)]),
    'resnet56': (CifarResNet, dict(arch='resnet56'), 0.86, 64,
                 [(16, 32), (32, 16), (64, 8)]),
    'resnet8x4': (CifarResNet, dict(arch='resnet8x4'), 1.23, 256,
                  [(64, 32), (128, 16), (256, 8)]),
    'resnet32x4': (CifarResNet, dict(arch='resnet32x4'), 7.43, 256,
                   [(64, 32), (128, 16), (256, 8)]),
    'wrn40_1': (CifarWideResNet, dict(depth=40, widen_factor=1), 0.57, 64,
                [(16, 32), (32, 16), (64, 8)]),
    'wrn40_2': (CifarWideResNet, dict(depth=40, widen_factor=2), 2.26, 128,
                [(32, 32), (64, 16), (128, 8)]),
    'resnet50': (CifarResNet50, dict(), 23.71, 2048,
                 [(256, 32), (512, 16), (1024, 8), (2048, 4)]),
    'mobilenetv2': (CifarMobileNetV2, dict(), 0.81, 1280,
                    [(12, 16), (16, 8), (48, 4), (160, 2), (1280, 2)]),
    'shufflev1': (CifarShuffleNetV1, dict(), 0.95, 960,
                  [(240, 16), (480, 8), (960, 4)]),
    'shufflev2': (CifarShuffleNetV2, dict(), 1.36, 1024,
                  [(116, 16), (232, 8), (464, 4), (1024, 4)]),
}
# cheap enough for a backward pass on one core
SMALL = ['resnet20', 'resnet8x4', 'wrn40_1', 'mobilenetv2', 'shufflev1',
         'shufflev2']


def _build(name, **extra):
    cls, kwargs, *_ = ZOO[name]
    return cls(**kwargs, **extra)


@pytest.mark.parametrize('name', list(ZOO))
def test_param_count_matches_published(name):
    _, _, published, embed_dim, stages = ZOO[name]
    model = _build(name)
    assert model.embed_dim == embed_dim
    assert model.stage_channels == tuple(c for c, _ in stages)
    n = sum(p.numel() for p in model.parameters())
    n += embed_dim * 100 + 100  # linear 100-way head on the embedding
    assert abs(n / 1e6 - published) / published < 0.02, (name, n)


@pytest.mark.parametrize('name', list(ZOO))
def test_forward_all_stages(name):
    _, _, _, embed_dim, stages = ZOO[name]
    model = _build(name, out_indices=tuple(range(len(stages)))).eval()
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 32, 32))
    assert isinstance(feats, tuple)
    assert [tuple(f.shape) for f in feats] == [(2, c, h, h)
                                               for c, h in stages]
    assert tuple(f.shape[1] for f in feats) == model.stage_channels
    # GlobalAveragePooling + LinearClsHead(in_channels=embed_dim)
    assert feats[-1].mean((2, 3)).shape == (2, embed_dim)


@pytest.mark.parametrize('name', SMALL)
def test_default_output_and_backward(name):
    """Default out_indices is the last stage; train-mode backward works
    (guards against in-place ops on tensors autograd still needs)."""
    _, _, _, embed_dim, stages = ZOO[name]
    model = _build(name).train()
    feats = model(torch.randn(2, 3, 32, 32))
    assert len(feats) == 1
    assert feats[0].shape == (2, embed_dim, stages[-1][1], stages[-1][1])
    feats[0].mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_out_indices_selection_and_order():
    model = CifarResNet(arch='resnet20', out_indices=[-1, 0])
    assert model.out_indices == (0, 2)
    feats = model.eval()(torch.randn(2, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [16, 64]
    assert CifarResNet50(out_indices=3).out_indices == (3, )


@pytest.mark.parametrize('cls,kwargs,bad', [
    (CifarResNet, dict(arch='resnet20'), (0, 3)),
    (CifarResNet, dict(arch='resnet20'), (-4, )),
    (CifarWideResNet, dict(depth=16, widen_factor=1), (5, )),
    (CifarResNet50, dict(), (4, )),
    (CifarMobileNetV2, dict(), (5, )),
    (CifarShuffleNetV1, dict(), (3, )),
    (CifarShuffleNetV2, dict(), (4, )),
    (CifarResNet, dict(arch='resnet20'), ()),
    (CifarResNet, dict(arch='resnet20'), (1, 1)),
])
def test_out_indices_out_of_range(cls, kwargs, bad):
    with pytest.raises(ValueError, match='out_indices'):
        cls(**kwargs, out_indices=bad)


def test_out_indices_type():
    with pytest.raises(TypeError):
        CifarResNet(out_indices=(0.5, ))
    with pytest.raises(TypeError):
        CifarResNet(out_indices='0')


def test_bad_arch_and_depth():
    with pytest.raises(ValueError, match='resnet8x4'):
        CifarResNet(arch='resnet18')
    with pytest.raises(ValueError, match='6n \\+ 2'):
        CifarResNet(arch='resnet20', depth=21)
    with pytest.raises(ValueError, match='6n \\+ 4'):
        CifarWideResNet(depth=41, widen_factor=2)
    with pytest.raises(ValueError, match='positive int'):
        CifarWideResNet(depth=16, widen_factor=0)
    with pytest.raises(ValueError, match='50'):
        CifarResNet50(depth=18)
    with pytest.raises(ValueError, match='net_size'):
        CifarShuffleNetV2(net_size=3)


def test_arch_overrides():
    model = CifarResNet(arch='resnet20', depth=8, channels=(8, 8, 16, 32))
    assert model.depth == 8
    assert model.stage_channels == (8, 16, 32)
    assert len(model.layer1) == 1


def test_build_from_registry():
    # _scope_: other tests leave another package's default scope current.
    model = MODELS.build(
        dict(_scope_='nd_mmdet', type='CifarResNet', arch='resnet8x4',
             out_indices=(0, 1, 2)))
    assert isinstance(model, CifarResNet)
    assert isinstance(model, BaseCifarBackbone)
    assert model.stage_channels == (64, 128, 256)
    feats = model.eval()(torch.randn(2, 3, 32, 32))
    assert tuple(f.shape[1] for f in feats) == model.stage_channels
    for name in ('CifarWideResNet', 'CifarResNet50', 'CifarMobileNetV2',
                 'CifarShuffleNetV1', 'CifarShuffleNetV2'):
        assert MODELS.get(name) is not None


def test_weight_init():
    model = CifarResNet(arch='resnet20')
    model.init_weights()  # no init_cfg: keeps the constructor's init
    conv = model.layer3[0].conv1  # 3x3, 32 -> 64
    expected_std = (2.0 / (64 * 9))**0.5  # kaiming normal, fan_out, ReLU
    assert abs(conv.weight.std().item() / expected_std - 1) < 0.1
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)

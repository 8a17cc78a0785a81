"""tools/model_converters/torchvision_to_mmpretrain.py: a randomly
initialised torchvision model, converted, gives the MMPretrain model of our
ImageNet configs the same logits."""
import importlib.util
import os.path as osp

import pytest
import torch

import nd_mmdet  # noqa: F401  (makes torchvision importable on CPU torch)
import torchvision  # noqa: E402  (after nd_mmdet)
from nd_mmdet.registry import MODELS  # noqa: E402
from nd_mmdet.utils import load_model_config  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters',
                'torchvision_to_mmpretrain.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('torchvision_to_mmpretrain',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def randomised(model, seed=0):
    """Random weights *and* BN statistics (a fresh BN is the identity in
    eval mode, which would hide a wrongly mapped running mean / var)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=gen)
            if name.endswith('running_var'):
                tensor.copy_(0.5 + noise.abs())
            elif name.endswith(('running_mean', 'bias')):
                tensor.copy_(0.1 * noise)
            elif name.endswith('weight') and tensor.dim() == 1:
                tensor.copy_(1.0 + 0.1 * noise)
    return model.eval()


def classifier_from_config(arch):
    cfg = load_model_config(
        osp.join(ROOT, 'configs', '_base_', 'models', 'imagenet',
                 f'{arch}.py'))
    return MODELS.build(cfg).eval()


def assert_same_logits(tv_model, mm_model):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = tv_model(x)
        got = mm_model(x, mode='tensor')
    assert got.shape == expected.shape == (2, 1000)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('arch', ['resnet18', 'resnet50'])
def test_resnet_matches_torchvision(arch, tmp_path):
    tv_model = randomised(getattr(torchvision.models, arch)())
    src = tmp_path / f'{arch}_tv.pth'
    dst = tmp_path / f'{arch}_mm.pth'
    torch.save(tv_model.state_dict(), src)
    assert tool.main([arch, str(src), str(dst)]) == 0

    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'state_dict', 'meta'}
    assert saved['meta']['arch'] == arch
    mm_model = classifier_from_config(arch)
    mm_model.load_state_dict(saved['state_dict'], strict=True)
    assert_same_logits(tv_model, mm_model)


def test_mobilenet_v2_matches_torchvision(tmp_path):
    tv_model = randomised(torchvision.models.mobilenet_v2())
    # A DataParallel-style prefix inside a 'state_dict' wrapper is accepted.
    src = tmp_path / 'mbv2_tv.pth'
    torch.save(
        dict(state_dict={
            f'module.{k}': v
            for k, v in tv_model.state_dict().items()
        }), src)
    dst = tmp_path / 'mbv2_mm.pth'
    tool.convert_file('mobilenet_v2', str(src), str(dst))
    mm_model = tool.build_classifier('mobilenet_v2').eval()
    mm_model.load_state_dict(
        torch.load(dst, weights_only=True)['state_dict'], strict=True)
    assert_same_logits(tv_model, mm_model)


def test_wrong_arch_and_bad_input_are_errors(tmp_path, capsys):
    sd = torchvision.models.resnet18().state_dict()
    src = tmp_path / 'r18.pth'
    torch.save(sd, src)
    # ResNet-18 weights announced as ResNet-50: shapes / keys disagree.
    assert tool.main(['resnet50', str(src), str(tmp_path / 'x.pth')]) == 1
    assert 'do not match MMPretrain' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()
    # MobileNetV2 keys are not ResNet keys.
    with pytest.raises(ValueError, match='not torchvision resnet18 keys'):
        tool.convert({'features.0.0.weight': torch.zeros(1)}, 'resnet18')
    with pytest.raises(ValueError, match='unknown arch'):
        tool.convert(sd, 'vgg16')
    assert tool.main(['resnet18', str(tmp_path / 'nope.pth'),
                      str(tmp_path / 'y.pth')]) == 1
    assert 'not found' in capsys.readouterr().err

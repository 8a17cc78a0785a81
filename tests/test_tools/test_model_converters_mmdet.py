"""tools/model_converters/torchvision_to_mmdet.py: a random-weight
torchvision ResNet-18 / MobileNetV2 (BN statistics randomised too),
converted, loads strictly into MMDetection's backbone, and every stage of
the backbone (out_indices = all stages) gives the output of the
corresponding torchvision layers on an image (atol 1e-5)."""
import pytest
import torch

import nd_mmdet  # noqa: F401  (makes torchvision importable on CPU torch)
import torchvision  # noqa: E402  (after nd_mmdet)
from tests.test_reliability.tool_call import load_tool  # noqa: E402
from tests.test_tools.test_model_converters import randomised  # noqa: E402

torch.set_num_threads(1)


tool = load_tool('model_converters/torchvision_to_mmdet.py')


def image():
    return torch.randn(2, 3, 64, 64,
                       generator=torch.Generator().manual_seed(1))


def torchvision_resnet_stages(model, x):
    """Outputs of layer1..layer4 of a torchvision ResNet."""
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    outs = []
    for name in ('layer1', 'layer2', 'layer3', 'layer4'):
        x = getattr(model, name)(x)
        outs.append(x)
    return outs


#: torchvision features[a:b] that make MMDetection MobileNetV2 stage i
#: (layer1..layer7: 1, 2, 3, 4, 3, 3, 1 blocks; stage 7 is conv2).
MBV2_STAGES = ((1, 2), (2, 4), (4, 7), (7, 11), (11, 14), (14, 17),
               (17, 18), (18, 19))


def torchvision_mobilenet_v2_stages(model, x):
    x = model.features[0](x)
    outs = []
    for start, stop in MBV2_STAGES:
        for i in range(start, stop):
            x = model.features[i](x)
        outs.append(x)
    return outs


def convert_and_load(arch, tv_model, tmp_path, *options, widen_factor=1.0):
    src = tmp_path / f'{arch}_tv.pth'
    dst = tmp_path / f'{arch}_mmdet.pth'
    torch.save(tv_model.state_dict(), src)
    assert tool.main([arch, str(src), str(dst), *options]) == 0
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['arch'] == arch
    assert saved['meta']['converter'] == 'torchvision_to_mmdet'
    backbone = tool.build_backbone(arch, widen_factor)
    backbone.eval()  # (MMDetection's backbones' train() returns None)
    backbone.load_state_dict(saved['state_dict'], strict=True)
    return backbone


def assert_same_stages(got, expected):
    assert len(got) == len(expected)
    for stage, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape, (stage, a.shape, b.shape)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5,
                                   msg=f'stage {stage}')


def test_resnet18_stages_match_torchvision(tmp_path):
    tv_model = randomised(torchvision.models.resnet18(weights=None))
    backbone = convert_and_load('resnet18', tv_model, tmp_path)
    x = image()
    with torch.no_grad():
        got = backbone(x)
        expected = torchvision_resnet_stages(tv_model, x)
    assert [t.shape[1] for t in got] == [64, 128, 256, 512]
    assert_same_stages(got, expected)


@pytest.mark.parametrize('widen_factor', [1.0, 0.5])
def test_mobilenet_v2_stages_match_torchvision(widen_factor, tmp_path):
    tv_model = randomised(torchvision.models.mobilenet_v2(
        weights=None, width_mult=widen_factor))
    backbone = convert_and_load(
        'mobilenet_v2', tv_model, tmp_path, '--widen-factor',
        str(widen_factor), widen_factor=widen_factor)
    x = image()
    with torch.no_grad():
        got = backbone(x)
        expected = torchvision_mobilenet_v2_stages(tv_model, x)
    assert got[-1].shape[1] == 1280
    assert_same_stages(got, expected)


def test_bottleneck_resnet_keys_and_caffe_style_differs(tmp_path):
    """ResNet-50's keys load strictly; the same weights in a caffe-style
    backbone (stride on the 1x1 conv) compute something else, which is why
    the converter's target is style='pytorch'."""
    from mmdet.models.backbones import ResNet
    tv_model = randomised(torchvision.models.resnet50(weights=None))
    converted = tool.convert(tv_model.state_dict(), 'resnet50')
    assert not any(k.startswith('fc.') for k in converted)
    pytorch_style = tool.verify(converted, 'resnet50')
    caffe = ResNet(depth=50, style='caffe', out_indices=(0, 1, 2, 3))
    caffe.load_state_dict(converted, strict=True)
    pytorch_style.eval()
    caffe.eval()
    x = image()
    with torch.no_grad():
        expected = torchvision_resnet_stages(tv_model, x)
        assert_same_stages(pytorch_style(x), expected)
        assert not torch.allclose(caffe(x)[1], expected[1], atol=1e-3)


def test_wrong_arch_and_widen_factor_are_errors(tmp_path, capsys):
    src = tmp_path / 'r18.pth'
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), src)
    assert tool.main(['resnet50', str(src), str(tmp_path / 'x.pth')]) == 1
    assert "do not match MMDetection's backbone" in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()
    half = tmp_path / 'mbv2_half.pth'
    torch.save(torchvision.models.mobilenet_v2(
        weights=None, width_mult=0.5).state_dict(), half)
    assert tool.main(['mobilenet_v2', str(half), str(tmp_path / 'y.pth')]) \
        == 1
    err = capsys.readouterr().err
    assert 'shape mismatches' in err and '--widen-factor?' in err
    with pytest.raises(ValueError, match='not torchvision resnet18 keys'):
        tool.convert({'features.0.0.weight': torch.zeros(1)}, 'resnet18')

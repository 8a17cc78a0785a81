"""Convert torchvision ImageNet weights to an MMDetection backbone.

    python tools/model_converters/torchvision_to_mmdet.py ARCH SRC DST
        [--widen-factor W]

ARCH is one of ``resnet18 resnet34 resnet50 resnet101 resnet152
mobilenet_v2``; SRC a torchvision state dict (e.g. ``resnet50-0676ba61.pth``
from download.pytorch.org; wrappers and a DDP ``module.`` prefix as in
``torchvision_to_mmpretrain.py``). DST is written as
``dict(state_dict=..., meta=dict(arch=..., source=..., ...))`` with the
backbone's own keys (no ``backbone.`` prefix; the classifier is dropped),
tensors and strings only, and loads strictly into

- ``mmdet.models.backbones.ResNet(depth, style='pytorch')``: torchvision's
  bottleneck has its stride on the 3x3 conv (MMDetection's ``pytorch``
  style); ``style='caffe'`` (stride on the 1x1 conv, BGR 0-255 inputs) would
  load the same keys but compute another function;
- ``mmdet.models.backbones.MobileNetV2(widen_factor=W)`` (torchvision's
  ``width_mult``).

A detector uses it with ``backbone=dict(..., init_cfg=dict(
type='Pretrained', checkpoint=DST))`` and torchvision's input
normalisation: ``data_preprocessor=dict(mean=[123.675, 116.28, 103.53],
std=[58.395, 57.12, 57.375], bgr_to_rgb=True)``.

Key mapping (built on torchvision_to_mmpretrain's maps): ResNet keys are
torchvision's (``fc.*`` dropped). MobileNetV2: ``features.0`` -> ``conv1``,
``features.1..17`` -> the blocks of ``layer1..layer7``, whose torchvision
conv-BN items (``conv.0 .. conv.3``) become MMDetection's
``expand_conv`` (absent in the expansion-1 block), ``depthwise_conv`` and
``linear_conv`` ConvModules (``.conv`` / ``.bn``), ``features.18`` ->
``conv2`` (stage index 7), ``classifier.*`` dropped.

Before saving, the converted weights are loaded strictly into the
MMDetection backbone (``--no-verify`` skips it); any key that is not
mapped, and any missing one, is an error.
"""
import importlib.util
import os.path as osp
import re
import sys
from collections import OrderedDict

import torch


def _load_sibling(name):
    """The converter ``name``.py next to this file, as a module."""
    spec = importlib.util.spec_from_file_location(
        name, osp.join(osp.dirname(osp.abspath(__file__)), f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


to_mmpretrain = _load_sibling('torchvision_to_mmpretrain')

#: The architectures (the same as the MMPretrain converter's).
ARCHS = to_mmpretrain.ARCHS

#: MMDetection ConvModules of an InvertedResidual, by the number of
#: torchvision ConvBNAct items before its linear conv (1: no expansion).
_MBV2_PARTS = {1: ('depthwise_conv', 'linear_conv'),
               2: ('expand_conv', 'depthwise_conv', 'linear_conv')}


def _mmdet_key(pretrain_key, state_dict, arch, source_key):
    """MMPretrain ``ImageClassifier`` key -> MMDetection backbone key, or
    None for the classifier; ``source_key`` (torchvision's) tells whether
    a MobileNetV2 block expands."""
    if pretrain_key.startswith('head.'):
        return None
    key = pretrain_key[len('backbone.'):]
    if arch != 'mobilenet_v2':
        return key
    m = re.match(r'(layer\d\.\d+)\.conv\.(\d)\.(.+)$', key)
    if not m:
        return key  # conv1 / conv2: the same ConvModule names
    block = int(source_key.split('.')[1])
    expanded = f'features.{block}.conv.3.weight' in state_dict
    parts = _MBV2_PARTS[2 if expanded else 1]
    return f'{m.group(1)}.{parts[int(m.group(2))]}.{m.group(3)}'


def convert(state_dict, arch):
    """Return the MMDetection backbone state dict of ``arch``.

    Raises:
        ValueError: an unknown arch, or source keys that do not map (e.g.
            the weights of another architecture).
    """
    kind, _, _ = to_mmpretrain._check_arch(arch)
    converted = OrderedDict()
    unmapped = []
    for key, value in state_dict.items():
        if kind == 'resnet':
            pretrain_key = to_mmpretrain._resnet_key(key)
        else:
            pretrain_key = to_mmpretrain._mobilenet_v2_key(key, state_dict)
        if pretrain_key is None:
            unmapped.append(key)
            continue
        new_key = _mmdet_key(pretrain_key, state_dict, arch, key)
        if new_key is not None:
            converted[new_key] = value
    if unmapped:
        raise ValueError(f'{len(unmapped)} keys of the source are not '
                         f'torchvision {arch} keys: {unmapped[:8]}')
    return converted


def build_backbone(arch, widen_factor=1.0, all_stages=True):
    """The MMDetection backbone :func:`convert` targets (every stage an
    output when ``all_stages``: ResNet 0-3, MobileNetV2 0-7)."""
    import nd_mmdet  # noqa: F401  (torchvision compat before mmdet)
    from mmdet.models.backbones import MobileNetV2, ResNet
    kind, depth, _ = to_mmpretrain._check_arch(arch)
    if kind == 'resnet':
        return ResNet(depth=depth, num_stages=4, style='pytorch',
                      out_indices=(0, 1, 2, 3) if all_stages else (3, ))
    return MobileNetV2(widen_factor=widen_factor,
                       out_indices=tuple(range(8)) if all_stages else (7, ))


def verify(converted, arch, widen_factor=1.0):
    """Load ``converted`` strictly into :func:`build_backbone`'s model."""
    from nd_mmdet.utils.state_dict_match import describe, mismatch
    model = build_backbone(arch, widen_factor)
    diff = mismatch(model.state_dict(), converted)
    if diff:
        raise ValueError(
            f'converted {arch} weights do not match MMDetection\'s backbone '
            f'(widen_factor {widen_factor}; another architecture or '
            f'--widen-factor?): {describe(diff)}')
    model.load_state_dict(converted, strict=True)
    return model


def convert_file(arch, src, dst, check=True, widen_factor=1.0):
    """Read ``src``, convert, optionally verify, write ``dst``
    atomically."""
    import io

    from nd_mmdet.compat import atomic_write_bytes
    to_mmpretrain._check_arch(arch)
    ckpt = to_mmpretrain.read_source(src)
    converted = convert(to_mmpretrain.unwrap_state_dict(ckpt), arch)
    if check:
        verify(converted, arch, widen_factor)
    meta = dict(arch=arch, source=osp.basename(src),
                converter='torchvision_to_mmdet')
    if arch == 'mobilenet_v2':
        meta['widen_factor'] = str(widen_factor)
    else:
        meta['style'] = 'pytorch'
    buffer = io.BytesIO()
    torch.save(dict(state_dict=converted, meta=meta), buffer)
    atomic_write_bytes(buffer.getvalue(), dst)
    return converted


def parse_args(argv=None):
    parser = to_mmpretrain.converter_parser(
        'Convert torchvision ImageNet weights to an MMDetection backbone '
        '(ResNet style=pytorch, MobileNetV2)', 'MMDetection backbone')
    parser.add_argument(
        '--widen-factor', type=float, default=1.0,
        help='MobileNetV2 width multiplier of the source (default 1.0)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return to_mmpretrain.run_conversion(
        lambda: convert_file(args.arch, args.src, args.dst,
                             check=not args.no_verify,
                             widen_factor=args.widen_factor),
        f'torchvision {args.arch} -> MMDetection backbone {args.dst}')


if __name__ == '__main__':
    sys.exit(main())

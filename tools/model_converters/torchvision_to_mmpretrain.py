"""Convert torchvision ImageNet weights to MMPretrain's ImageClassifier layout.

    python tools/model_converters/torchvision_to_mmpretrain.py ARCH SRC DST

ARCH is one of ``resnet18 resnet34 resnet50 resnet101 resnet152
mobilenet_v2``; SRC a torchvision state dict (e.g. ``resnet50-0676ba61.pth``
from download.pytorch.org; a ``{'state_dict': ...}`` / ``{'model': ...}``
wrapper and a DDP ``module.`` prefix are accepted); DST is written as
``dict(state_dict=..., meta=dict(arch=..., source=...))`` with tensors and
strings only, so ``torch.load(DST, weights_only=True)`` reads it, and it
loads strictly into

- ``ImageClassifier(backbone=ResNet(depth), neck=GlobalAveragePooling,
  head=LinearClsHead(in_channels=512 or 2048))``
  (``configs/_base_/models/imagenet/resnet*.py``);
- ``ImageClassifier(backbone=MobileNetV2(widen_factor=1.0),
  neck=GlobalAveragePooling, head=LinearClsHead(in_channels=1280))``.

Key mapping: ResNet keys are identical up to the ``backbone.`` prefix
(``fc.*`` -> ``head.fc.*``). MobileNetV2: ``features.0`` -> ``conv1``,
``features.1..17`` -> the blocks of ``layer1..layer7``, ``features.18`` ->
``conv2``, ``classifier.1`` -> ``head.fc`` (torchvision's conv-BN pairs
``.0``/``.1`` become MMPretrain's ConvModule ``.conv``/``.bn``).

Before saving, the converted weights are loaded strictly into the
MMPretrain model (``--no-verify`` skips it); any key that is not mapped, and
any missing one, is an error.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import sys
from collections import OrderedDict

import torch

#: ARCH -> (kind, depth, embedding width)
ARCHS = {
    'resnet18': ('resnet', 18, 512),
    'resnet34': ('resnet', 34, 512),
    'resnet50': ('resnet', 50, 2048),
    'resnet101': ('resnet', 101, 2048),
    'resnet152': ('resnet', 152, 2048),
    'mobilenet_v2': ('mobilenet_v2', None, 1280),
}

#: Blocks per layer of MMPretrain's MobileNetV2 (= torchvision's settings).
_MBV2_BLOCKS = (1, 2, 3, 4, 3, 3, 1)


def _check_arch(arch):
    if arch not in ARCHS:
        raise ValueError(f'unknown arch {arch!r}; choose from {list(ARCHS)}')
    return ARCHS[arch]


def _resnet_key(key):
    if key.startswith('fc.'):
        return 'head.' + key
    if re.match(r'(conv1|bn1)\.|layer[1-4]\.\d+\.', key):
        return 'backbone.' + key
    return None


def _mobilenet_v2_key(key, state_dict):
    if key.startswith('classifier.1.'):
        return 'head.fc.' + key[len('classifier.1.'):]
    m = re.match(r'features\.(0|18)\.([01])\.(.+)$', key)
    if m:
        module = 'conv1' if m.group(1) == '0' else 'conv2'
        part = 'conv' if m.group(2) == '0' else 'bn'
        return f'backbone.{module}.{part}.{m.group(3)}'
    m = re.match(r'features\.(\d+)\.conv\.(\d+)\.(.+)$', key)
    if not m:
        return None
    block, item, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if not 1 <= block <= sum(_MBV2_BLOCKS):
        return None
    layer, index, start = 0, 0, 1
    for layer, num in enumerate(_MBV2_BLOCKS, 1):
        if block < start + num:
            index = block - start
            break
        start += num
    # torchvision: [ConvBNAct x n] + bare conv + bare BN, where n = 1 (dw)
    # for the expansion-1 block and 2 (pw, dw) otherwise; MMPretrain:
    # [ConvModule x n] + ConvModule without activation.
    expanded = f'features.{block}.conv.3.weight' in state_dict
    n = 2 if expanded else 1
    prefix = f'backbone.layer{layer}.{index}.conv'
    if item < n:
        sub = re.match(r'([01])\.(.+)$', rest)
        if not sub:
            return None
        part = 'conv' if sub.group(1) == '0' else 'bn'
        return f'{prefix}.{item}.{part}.{sub.group(2)}'
    if item == n:
        return f'{prefix}.{n}.conv.{rest}'
    if item == n + 1:
        return f'{prefix}.{n}.bn.{rest}'
    return None


def unwrap_state_dict(ckpt):
    """A raw state dict, or the one inside ``state_dict`` / ``model``, with
    a ``module.`` prefix stripped."""
    state_dict = ckpt
    if isinstance(ckpt, dict):
        for key in ('state_dict', 'model'):
            if isinstance(ckpt.get(key), dict):
                state_dict = ckpt[key]
                break
    if not isinstance(state_dict, dict) or not state_dict:
        raise ValueError('the source file holds no state dict')
    if all(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):]: v for k, v in state_dict.items()}
    return state_dict


def convert(state_dict, arch):
    """Return the MMPretrain ``ImageClassifier`` state dict of ``arch``.

    Raises:
        ValueError: an unknown arch, or source keys that do not map (e.g.
            the weights of another architecture).
    """
    kind, _, _ = _check_arch(arch)
    converted = OrderedDict()
    unmapped = []
    for key, value in state_dict.items():
        if kind == 'resnet':
            new_key = _resnet_key(key)
        else:
            new_key = _mobilenet_v2_key(key, state_dict)
        if new_key is None:
            unmapped.append(key)
        else:
            converted[new_key] = value
    if unmapped:
        raise ValueError(f'{len(unmapped)} keys of the source are not '
                         f'torchvision {arch} keys: {unmapped[:8]}')
    return converted


def build_classifier(arch, num_classes=1000):
    """The MMPretrain ImageClassifier that :func:`convert` targets."""
    import nd_mmdet  # noqa: F401  (torchvision compat before mmpretrain)
    from mmpretrain.models import ImageClassifier
    kind, depth, width = _check_arch(arch)
    if kind == 'resnet':
        backbone = dict(
            type='ResNet',
            depth=depth,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch')
    else:
        backbone = dict(type='MobileNetV2', widen_factor=1.0)
    return ImageClassifier(
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=width,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


def verify(converted, arch):
    """Load ``converted`` strictly into :func:`build_classifier`'s model."""
    num_classes = converted['head.fc.weight'].shape[0]
    model = build_classifier(arch, num_classes)
    own = model.state_dict()
    missing = sorted(set(own) - set(converted))
    unexpected = sorted(set(converted) - set(own))
    if missing or unexpected:
        raise ValueError(f'converted {arch} weights do not match MMPretrain: '
                         f'missing {missing[:8]}, unexpected '
                         f'{unexpected[:8]}')
    wrong = [k for k, v in own.items() if v.shape != converted[k].shape]
    if wrong:
        raise ValueError(f'converted {arch} weights have wrong shapes: '
                         f'{wrong[:8]} (another architecture?)')
    model.load_state_dict(converted, strict=True)
    return model


def read_source(src):
    """``torch.load`` of the source file (weights only), or one error
    naming it."""
    if not osp.isfile(src):
        raise FileNotFoundError(f'source checkpoint not found: {src}')
    try:
        return torch.load(src, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(f'cannot read {src} as a torch state dict: '
                         f'{str(err).splitlines()[0]}') from err


def convert_file(arch, src, dst, check=True):
    """Read ``src``, convert, optionally verify, write ``dst``."""
    _check_arch(arch)
    converted = convert(unwrap_state_dict(read_source(src)), arch)
    if check:
        verify(converted, arch)
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(arch=arch, source=osp.basename(src),
                      converter='torchvision_to_mmpretrain')), dst)
    return converted


def converter_parser(description, target):
    """The arguments every converter takes: ARCH SRC DST --no-verify."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('arch', choices=sorted(ARCHS), help='architecture')
    parser.add_argument('src', help='torchvision state dict (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help=f'skip the strict load into the {target}')
    return parser


def run_conversion(convert_call, what):
    """Run ``convert_call()``: 0 and one line saying ``what`` was
    converted, or 1 and one ``error:`` line."""
    try:
        converted = convert_call()
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'converted {len(converted)} tensors of {what}')
    return 0


def parse_args(argv=None):
    return converter_parser(
        'Convert torchvision ImageNet weights to the MMPretrain '
        'ImageClassifier layout', 'MMPretrain model').parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run_conversion(
        lambda: convert_file(args.arch, args.src, args.dst,
                             check=not args.no_verify),
        f'torchvision {args.arch} -> {args.dst}')


if __name__ == '__main__':
    sys.exit(main())

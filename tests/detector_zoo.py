"""Tiny MMDetection detectors of 15 families, for distillation coverage tests.

What: for each detector family in :data:`FAMILIES` this module derives a
model config from MMDetection's *own* config of that family
(:data:`MMDET_CONFIGS`, loaded with ``mmengine.hub.get_config('mmdet::...')``)
and shrinks it by overriding fields: ResNet-18 layout at 8 * ``width``
base channels (stages 8w, 16w, 32w, 64w), CSPNeXt / CSPDarknet with small
deepen / widen factors, necks with 16 * ``width`` output channels (32 *
``width`` for the Deformable DETR / DINO transformers), heads with 1-2
stacked convs, small RoI heads, 3 classes everywhere, few boxes at test time.
``width=1`` is the student and ``width=2`` the teacher of the same family:
only channel widths change, so the feature levels (number, strides) are
equal.

Why: the distillers must work with the detectors people actually use, with
their real heads, assigners, necks and data preprocessors (RGB vs BGR,
mean / std, pad divisors), not with a hand-written stand-in. Deriving the
tiny configs from the package configs keeps every other field as
MMDetection ships it, while the sizes make a training step take well under a
second on a CPU (images of :mod:`tests.tiny_coco` resized to 160 px).

Everything is trained from scratch: every ``init_cfg`` that would load a
checkpoint is dropped (no downloads). Other changes needed on a CPU-only,
single-process machine: ``SyncBN`` -> ``BN`` (RTMDet, with
``use_syncbn=False``), the data preprocessor's ``batch_augments`` removed
(YOLOX resizes batches to 320-640 px), GroupNorm heads use 8 groups (the
default 32 does not divide 16 channels), and the sampler / proposal counts of
the two-stage train configs are reduced.

Note: TOOD's head reads the current epoch from the :class:`MessageHub`
(``RuntimeInfoHook`` sets it in a Runner); outside a Runner call
:func:`set_epoch_info` before ``model.loss``.

Public API: :data:`FAMILIES`, :data:`MMDET_CONFIGS`, :func:`tiny_detector`,
:func:`needs_masks`, :func:`train_pipeline`, :func:`test_pipeline`,
:func:`level_layout` (measured constants :data:`LEVEL_LAYOUTS`) and
:func:`measure_level_layout` (recomputes them by a forward pass).
"""
import copy
import functools

from mmengine.config import ConfigDict

#: family -> the MMDetection config its tiny model is derived from.
MMDET_CONFIGS = {
    'faster_rcnn': 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mask_rcnn': 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'retinanet': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos': 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'gfl': 'mmdet::gfl/gfl_r50_fpn_1x_coco.py',
    'atss': 'mmdet::atss/atss_r50_fpn_1x_coco.py',
    'tood': 'mmdet::tood/tood_r50_fpn_1x_coco.py',
    'vfnet': 'mmdet::vfnet/vfnet_r50_fpn_1x_coco.py',
    'paa': 'mmdet::paa/paa_r50_fpn_1x_coco.py',
    'rtmdet': 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'yolox': 'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py',
    'centernet': 'mmdet::centernet/centernet_r18_8xb16-crop512-140e_coco.py',
    'cascade_rcnn': 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
    'deformable_detr':
    'mmdet::deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
    'dino': 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py',
}

#: The detector families, in a fixed order.
FAMILIES = tuple(MMDET_CONFIGS)

#: Image side (px) of the pipelines.
IMAGE_SIZE = 160

#: Boxes kept per image at test time.
MAX_PER_IMG = 20

#: Measured by :func:`measure_level_layout` (strides of ``extract_feat``'s
#: outputs; their channels, equal on all levels, at width 1 and 2).
LEVEL_LAYOUTS = {
    'faster_rcnn': dict(strides=(4, 8, 16, 32, 64), channels={1: 16, 2: 32}),
    'mask_rcnn': dict(strides=(4, 8, 16, 32, 64), channels={1: 16, 2: 32}),
    'retinanet': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'fcos': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'gfl': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'atss': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'tood': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'vfnet': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'paa': dict(strides=(8, 16, 32, 64, 128), channels={1: 16, 2: 32}),
    'rtmdet': dict(strides=(8, 16, 32), channels={1: 16, 2: 32}),
    'yolox': dict(strides=(8, 16, 32), channels={1: 16, 2: 32}),
    'centernet': dict(strides=(4, ), channels={1: 16, 2: 32}),
    'cascade_rcnn': dict(strides=(4, 8, 16, 32, 64),
                         channels={1: 16, 2: 32}),
    'deformable_detr': dict(strides=(8, 16, 32, 64), channels={1: 32, 2: 64}),
    'dino': dict(strides=(8, 16, 32, 64), channels={1: 32, 2: 64}),
}

# GroupNorm of the heads whose default is GN(32 groups).
_HEAD_GN = dict(type='GN', num_groups=8, requires_grad=True)
_GN_HEAD_FAMILIES = ('fcos', 'gfl', 'atss', 'tood', 'vfnet', 'paa')


def _check_family(family):
    if family not in MMDET_CONFIGS:
        raise KeyError(f'unknown detector family {family!r}; '
                       f'expected one of {FAMILIES}')


@functools.lru_cache(maxsize=None)
def _mmdet_model(family):
    """The ``model`` of the family's MMDetection config, as a plain dict
    (cached: parsing a config with its bases takes a while)."""
    from mmengine.hub import get_config
    cfg = get_config(MMDET_CONFIGS[family])
    model = cfg.model.to_dict()
    if 'data_preprocessor' not in model and 'data_preprocessor' in cfg:
        model['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    return model


def _walk(node, fn):
    """Call ``fn(d)`` on every dict nested in ``node`` (lists included)."""
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk(value, fn)


def _no_checkpoint_and_sizes(d, num_classes):
    """Per-dict fixes: ``num_classes``, no ``Pretrained`` init, no SyncBN."""
    if 'num_classes' in d:
        d['num_classes'] = num_classes
    init_cfg = d.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        d['init_cfg'] = None
    if d.get('type') == 'SyncBN':
        d['type'] = 'BN'


def _tiny_resnet(backbone, width):
    """ResNet-18 layout, stages 8w, 16w, 32w, 64w, trainable from scratch.
    Returns the channels of the ``out_indices`` stages."""
    backbone.update(
        depth=18,
        base_channels=8 * width,
        stem_channels=8 * width,
        init_cfg=None,
        frozen_stages=-1,
        norm_eval=False)
    norm_cfg = dict(backbone.get('norm_cfg') or dict(type='BN'))
    norm_cfg['requires_grad'] = True
    backbone['norm_cfg'] = norm_cfg
    out_indices = backbone.get('out_indices', (0, 1, 2, 3))
    return [8 * width * 2**i for i in out_indices]


def _tiny_csp(backbone, width):
    """CSPNeXt / CSPDarknet (P5) with few blocks and stages 8w .. 64w.
    Returns the channels of the ``out_indices`` stages (default (2, 3, 4))."""
    backbone.update(
        deepen_factor=0.167, widen_factor=0.0625 * width, init_cfg=None)
    out_indices = backbone.get('out_indices', (2, 3, 4))
    # P5 stage outputs: stem 64, then 128, 256, 512, 1024 (times widen).
    return [4 * width * 2**i for i in out_indices]


def _tiny_two_stage(model, width):
    """RPN + RoI heads of Faster / Mask / Cascade R-CNN."""
    c = 16 * width
    model['rpn_head'].update(in_channels=c, feat_channels=c)
    roi = model['roi_head']
    roi['bbox_roi_extractor']['out_channels'] = c
    bbox_heads = roi['bbox_head']
    for head in (bbox_heads if isinstance(bbox_heads, list) else
                 [bbox_heads]):
        head.update(in_channels=c, fc_out_channels=32 * width)
    if 'mask_head' in roi:
        roi['mask_roi_extractor']['out_channels'] = c
        roi['mask_head'].update(
            in_channels=c, conv_out_channels=c, num_convs=1)
    train_cfg = model['train_cfg']
    train_cfg['rpn']['sampler']['num'] = 64
    train_cfg['rpn_proposal'].update(nms_pre=200, max_per_img=100)
    rcnn = train_cfg['rcnn']
    for stage in (rcnn if isinstance(rcnn, list) else [rcnn]):
        stage['sampler']['num'] = 64
    test_cfg = model['test_cfg']
    test_cfg['rpn'].update(nms_pre=200, max_per_img=50)
    test_cfg['rcnn']['max_per_img'] = MAX_PER_IMG


def _tiny_deformable_detr(model, width):
    dims, heads = 32 * width, 4
    model.update(num_queries=20)
    model['positional_encoding']['num_feats'] = dims // 2
    encoder, decoder = model['encoder'], model['decoder']
    encoder['num_layers'] = 1
    encoder['layer_cfg']['self_attn_cfg'].update(
        embed_dims=dims, num_heads=heads)
    encoder['layer_cfg']['ffn_cfg'].update(
        embed_dims=dims, feedforward_channels=2 * dims)
    decoder['num_layers'] = 1
    decoder['layer_cfg']['self_attn_cfg'].update(
        embed_dims=dims, num_heads=heads)
    decoder['layer_cfg']['cross_attn_cfg'].update(
        embed_dims=dims, num_heads=heads)
    decoder['layer_cfg']['ffn_cfg'].update(
        embed_dims=dims, feedforward_channels=2 * dims)
    model['neck'].update(
        out_channels=dims, norm_cfg=dict(type='GN', num_groups=8))
    model['bbox_head']['embed_dims'] = dims
    model['test_cfg']['max_per_img'] = MAX_PER_IMG
    if 'dn_cfg' in model:  # DINO: fewer denoising queries
        model['dn_cfg']['group_cfg']['num_dn_queries'] = 10


def tiny_detector(family, width=1, num_classes=3):
    """Tiny model config of ``family`` (see the module doc).

    Returns the ``model`` of :data:`MMDET_CONFIGS` [family], deep-copied
    and shrunk, with ``_scope_='mmdet'`` at top level, as a fresh
    ``ConfigDict`` (a ``dict`` subclass; ``.to_dict()`` gives plain dicts). It
    builds with ``nd_mmdet.utils.build_model_from_spec`` or
    ``mmdet.registry.MODELS.build`` (under ``DefaultScope`` 'mmdet'); the
    latter needs the ``ConfigDict`` because MMDetection reads sub-configs as
    attributes (``train_cfg.rpn``).
    ``width`` scales every channel count (1: student, 2: teacher);
    the feature levels do not depend on it.
    """
    _check_family(family)
    if width < 1 or int(width) != width:
        raise ValueError(f'width must be a positive integer, got {width!r}')
    width = int(width)
    model = copy.deepcopy(_mmdet_model(family))
    model['_scope_'] = 'mmdet'
    _walk(model, functools.partial(
        _no_checkpoint_and_sizes, num_classes=num_classes))

    preprocessor = model['data_preprocessor']
    preprocessor.pop('batch_augments', None)

    backbone, neck = model['backbone'], model['neck']
    if backbone['type'] == 'ResNet':
        stage_channels = _tiny_resnet(backbone, width)
    else:
        stage_channels = _tiny_csp(backbone, width)
    c = 16 * width

    if family == 'centernet':
        neck.update(in_channels=stage_channels[-1],
                    num_deconv_filters=(c, c, c))
    else:
        neck.update(in_channels=stage_channels, out_channels=c)

    if family in ('faster_rcnn', 'mask_rcnn', 'cascade_rcnn'):
        _tiny_two_stage(model, width)
    elif family in ('deformable_detr', 'dino'):
        _tiny_deformable_detr(model, width)
    else:
        head = model['bbox_head']
        head.update(in_channels=c, feat_channels=c)
        if 'stacked_convs' in head:
            head['stacked_convs'] = 2 if family == 'tood' else 1
        if family in _GN_HEAD_FAMILIES:
            head['norm_cfg'] = dict(_HEAD_GN)
        test_cfg = model['test_cfg']
        if family == 'yolox':  # no max_per_img: cap the NMS instead
            test_cfg['nms']['max_num'] = MAX_PER_IMG
        elif family == 'centernet':
            test_cfg.update(topk=MAX_PER_IMG, max_per_img=MAX_PER_IMG)
        else:
            test_cfg.update(nms_pre=200, max_per_img=MAX_PER_IMG)
    if family == 'rtmdet':
        model['use_syncbn'] = False
    return ConfigDict(model)


def needs_masks(family):
    """Whether ``family`` trains on instance masks (COCO ``segmentation``;
    write the data with ``write_tiny_coco(..., with_masks=True)``)."""
    _check_family(family)
    return family == 'mask_rcnn'


def train_pipeline(family):
    """Training pipeline at :data:`IMAGE_SIZE` px (no augmentation)."""
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True,
             with_mask=needs_masks(family)),
        dict(type='Resize', scale=(IMAGE_SIZE, IMAGE_SIZE), keep_ratio=True),
        dict(type='PackDetInputs'),
    ]


def test_pipeline(family):
    """Test pipeline at :data:`IMAGE_SIZE` px; the annotations are loaded
    after the resize (original scale) and the meta keys are those the
    detectors and ``CocoMetric`` need.

    CenterNet's head subtracts ``img_meta['border']`` from its boxes, which
    only ``RandomCenterCropPad`` (test mode) sets: as in MMDetection's
    CenterNet config it pads the image around its centre (here to a multiple
    of 32, fill 0: the data preprocessor normalises afterwards)."""
    pipeline = [
        # RandomCenterCropPad asserts float32 images.
        dict(type='LoadImageFromFile', to_float32=family == 'centernet'),
        dict(type='Resize', scale=(IMAGE_SIZE, IMAGE_SIZE), keep_ratio=True),
    ]
    if family == 'centernet':
        pipeline.append(
            dict(type='RandomCenterCropPad', ratios=None, border=None,
                 mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True, test_mode=True,
                 test_pad_mode=['size_divisor', 32]))
    pipeline += [
        dict(type='LoadAnnotations', with_bbox=True,
             with_mask=needs_masks(family)),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor', 'border')),
    ]
    return pipeline


def level_layout(family):
    """``dict(strides=(...), channels={1: c1, 2: c2})`` of ``family``: the
    strides of ``model.extract_feat``'s outputs and their channels at width
    1 and 2 (measured constants, see :func:`measure_level_layout`)."""
    _check_family(family)
    layout = LEVEL_LAYOUTS[family]
    return dict(strides=layout['strides'], channels=dict(layout['channels']))


def measure_level_layout(family, widths=(1, 2), size=256):
    """Recompute :func:`level_layout` by building the tiny models and
    running ``extract_feat`` on a ``size`` x ``size`` zero image (``size``
    divisible by every stride, so stride = size / feature size)."""
    import torch
    from mmengine.registry import DefaultScope

    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    strides, channels = None, {}
    with DefaultScope.overwrite_default_scope('mmdet'):
        for width in widths:
            model = MODELS.build(tiny_detector(family, width=width)).eval()
            with torch.no_grad():
                feats = model.extract_feat(torch.zeros(1, 3, size, size))
            level_strides = tuple(size // f.shape[-1] for f in feats)
            level_channels = {f.shape[1] for f in feats}
            if len(level_channels) != 1:
                raise ValueError(f'{family}: levels of unequal channels '
                                 f'{[f.shape[1] for f in feats]}')
            if strides is not None and strides != level_strides:
                raise ValueError(f'{family}: strides depend on the width: '
                                 f'{strides} vs {level_strides}')
            strides = level_strides
            channels[width] = level_channels.pop()
    return dict(strides=strides, channels=channels)


def set_epoch_info(epoch=0):
    """Put ``epoch`` in the current :class:`MessageHub` (what a Runner's
    ``RuntimeInfoHook`` does); TOOD's head needs it to compute its loss."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('epoch', epoch)

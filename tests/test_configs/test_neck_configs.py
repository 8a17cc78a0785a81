"""The COCO neck-distillation configs (configs/coco/neck/): the anchors'
settings (pairs, strides, loss weights, RTMDet's connector and stop epoch),
their "++" variants (ND at the ground-truth boxes), and that the real models
build and run a loss step."""
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

from nd_mmdet.registry import MODELS
from nd_mmdet.utils import build_model_from_spec
from tests.tools_runner import REPO

torch.set_num_threads(1)

NECK = osp.join(REPO, 'configs/coco/neck')
#: pair -> (student, teacher, strides, PKD weight)
PAIRS = {
    'fcos_x101-retinanet_r50_1x':
    ('retinanet/retinanet_r50_fpn_1x_coco.py',
     'fcos/fcos_x101-64x4d_fpn_gn-head_ms-640-800-2x_coco.py',
     [8, 16, 32, 64], 10),
    'faster-rcnn_r101-r50_2x':
    ('faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
     'faster_rcnn/faster-rcnn_r101_fpn_2x_coco.py', [4, 8, 16, 32], 6),
    'retinanet_x101-r50_2x':
    ('retinanet/retinanet_r50_fpn_2x_coco.py',
     'retinanet/retinanet_x101-64x4d_fpn_1x_coco.py', [8, 16, 32, 64], 10),
}
#: RTMDet pair -> (student, teacher, student / teacher neck widths)
RTMDET = {'s-tiny': ('tiny', 's', 96, 128), 'm-s': ('s', 'm', 128, 192)}


def neck_config(method, pair):
    return Config.fromfile(osp.join(NECK, method,
                                    f'{method}_{pair}_coco.py'))


def rtmdet_config(method, pair):
    return Config.fromfile(osp.join(
        NECK, 'rtmdet', f'rtmdet-{method}_{pair}_8xb32-300e_coco.py'))


ND = dict(type='NDLoss', loss_weight=1.0)
CENTRES_HOOK = dict(type='nd_mmdet.ClassCentersHook', max_iters=200)
HEALTH_HOOK = dict(type='nd_mmdet.TrainingHealthHook')


@pytest.mark.parametrize('pair', sorted(PAIRS))
def test_pkd_pairs(pair):
    student, teacher, strides, pkd_weight = PAIRS[pair]
    losses = dict(
        pkd=dict(loss_pkd=dict(type='PKDLoss', loss_weight=pkd_weight)),
        cwd=dict(loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=5.0)),
        reviewkd=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.2)))
    for method, want in losses.items():
        cfg = neck_config(method, pair)
        assert cfg.default_scope == 'mmdet'
        assert cfg.model._scope_ == 'nd_mmdet'
        assert cfg.model.type == 'NeckDistiller'
        assert cfg.model.student == f'mmdet::{student}'
        assert cfg.model.teacher == f'mmdet::{teacher}'
        assert cfg.model.strides == strides
        assert cfg.model.distill_losses.to_dict() == want
        connectors = cfg.model.get('connectors') or {}
        assert ('student_feats' in connectors) == (method == 'reviewkd')
        # the student's own schedule: 1x = 12 epochs, 2x = 24
        assert cfg.train_cfg.max_epochs == (12 if pair.endswith('1x')
                                            else 24)
        assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    plus = neck_config('pkd++', pair)
    assert plus.model.distill_losses.to_dict() == dict(
        losses['pkd'], loss_nd=ND)
    assert plus.model.strides == strides and 'connectors' not in plus.model
    assert plus.custom_hooks == [CENTRES_HOOK,
                                 dict(type='nd_mmdet.ReseedPerEpochHook'),
                                 HEALTH_HOOK]


@pytest.mark.parametrize('pair', sorted(RTMDET))
def test_rtmdet_recipe(pair):
    student, teacher, s_ch, t_ch = RTMDET[pair]
    cfg = rtmdet_config('kd', pair)
    assert cfg.model.student == f'mmdet::rtmdet/rtmdet_{student}_8xb32-' \
        '300e_coco.py'
    assert cfg.model.teacher == f'mmdet::rtmdet/rtmdet_{teacher}_8xb32-' \
        '300e_coco.py'
    assert cfg.model.connectors.student_feats.to_dict() == dict(
        type='ConvBNConnector', in_channels=s_ch, out_channels=t_ch,
        num_levels=3)
    assert cfg.model.distill_losses.to_dict() == dict(loss_cwd=dict(
        type='CWDLoss', tau=1.0, loss_weight=1.0, normalize=True))
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert hooks == ['EMAHook', 'PipelineSwitchHook',
                     'nd_mmdet.DistillLossStopHook',
                     'nd_mmdet.ReseedPerEpochHook',
                     'nd_mmdet.TrainingHealthHook']
    assert cfg.custom_hooks[2].stop_epoch == 280 == \
        cfg.custom_hooks[1].switch_epoch
    assert cfg.train_cfg.max_epochs == 300
    plus = rtmdet_config('kd++', pair)
    assert plus.model.distill_losses.loss_nd.to_dict() == ND
    assert plus.model.connectors.student_embed.to_dict() == dict(
        type='EmbeddingProjector', in_channels=s_ch, out_channels=t_ch)
    assert plus.custom_hooks == cfg.custom_hooks + [CENTRES_HOOK]


def build_and_step(cfg, tmp_path):
    """Build the config's distiller with a random teacher checkpoint and run
    one loss on two 128 px images."""
    teacher = build_model_from_spec(cfg.model.teacher)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(teacher.state_dict(), ckpt)
    cfg.model.teacher_ckpt = ckpt
    distiller = MODELS.build(cfg.model).train()
    if distiller.needs_class_centers:
        distiller.set_class_centers(
            torch.rand(*distiller.expected_centers_shape()) + 0.1)
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=80)
    data = distiller.data_preprocessor(data, True)
    return distiller, distiller.loss(data['inputs'], data['data_samples'])


def test_rtmdet_s_tiny_plus_builds_and_steps(tmp_path):
    distiller, losses = build_and_step(rtmdet_config('kd++', 's-tiny'),
                                       tmp_path)
    assert [p.student.stride for p in distiller.level_pairs] == [8, 16, 32]
    assert [p.teacher.channels for p in distiller.level_pairs] == [128] * 3
    assert distiller.expected_centers_shape() == (80, 128)
    for name in ('loss_cwd', 'loss_nd'):
        assert torch.isfinite(losses[name]) and losses[name] > 0


def test_faster_rcnn_reviewkd_builds_and_steps(tmp_path):
    cfg = neck_config('reviewkd', 'faster-rcnn_r101-r50_2x')
    distiller, losses = build_and_step(cfg, tmp_path)
    assert [p.student.stride for p in distiller.level_pairs] == \
        [4, 8, 16, 32]
    assert torch.isfinite(losses['loss_hcl']) and losses['loss_hcl'] > 0

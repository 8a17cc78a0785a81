"""The head-level COCO configs of the families added with their adapters
(ATSS R101 -> R50, RTMDet s -> tiny): losses, weights, hooks, and that the
real RTMDet KD++ pair builds and runs a loss step."""
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

from nd_mmdet.registry import MODELS
from nd_mmdet.utils import build_model_from_spec
from tests.tools_runner import REPO

torch.set_num_threads(1)

DENSE = osp.join(REPO, 'configs/coco/dense')
KD = dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)
ND = dict(type='NDLoss', loss_weight=1.0)
CENTRES = dict(type='nd_mmdet.ClassCentersHook', max_iters=200)
#: detector -> (config suffix, teacher, epochs, student hooks kept)
PAIRS = dict(
    atss=('r101-r50_fpn_1x_coco', 'mmdet::atss/atss_r101_fpn_1x_coco.py',
          12, []),
    rtmdet=('s-tiny_8xb32-300e_coco',
            'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py', 300,
            ['EMAHook', 'PipelineSwitchHook']))


def config(method, det):
    suffix = PAIRS[det][0]
    return Config.fromfile(osp.join(DENSE, method,
                                    f'{method}_{det}_{suffix}.py'))


@pytest.mark.parametrize('det', sorted(PAIRS))
def test_kd_and_kdpp_configs(det):
    _, teacher, epochs, hooks = PAIRS[det]
    for method, losses in (('kd', dict(loss_kd=KD)),
                           ('kd++', dict(loss_kd=KD, loss_nd=ND))):
        cfg = config(method, det)
        assert cfg.model.type == 'DenseDistiller'
        assert cfg.model.teacher == teacher
        assert cfg.model.kd_at_negatives is True
        assert cfg.model.distill_losses.to_dict() == losses
        assert [h['type'] for h in cfg.custom_hooks] == \
            hooks + [CENTRES['type'], 'nd_mmdet.ReseedPerEpochHook',
                     'nd_mmdet.TrainingHealthHook']
        assert cfg.train_cfg.max_epochs == epochs
    assert config('kd++', 'rtmdet').model.connectors.student_embed.to_dict(
    ) == dict(type='EmbeddingProjector', in_channels=96, out_channels=128)


def test_rtmdet_kdpp_builds_and_steps(tmp_path):
    cfg = config('kd++', 'rtmdet')
    ckpt = str(tmp_path / 'rtmdet_s.pth')
    torch.save(build_model_from_spec(cfg.model.teacher).state_dict(), ckpt)
    cfg.model.teacher_ckpt = ckpt
    distiller = MODELS.build(cfg.model).train()
    assert distiller.expected_centers_shape() == (80, 128)
    distiller.set_class_centers(torch.rand(80, 128) + 0.1)
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=80)
    data = distiller.data_preprocessor(data, True)
    losses = distiller.loss(data['inputs'], data['data_samples'])
    for name in ('loss_kd', 'loss_nd'):
        assert torch.isfinite(losses[name]) and losses[name] > 0

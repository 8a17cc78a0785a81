"""One-stage dense detector distillation end to end through the
command-line tools, on the tiny COCO-format dataset: train a tiny teacher
(RetinaNet / FCOS / GFL with ResNet-18, 10 iterations), distil it with the repository's
KD++ config (binary KD + ND at the student's positive priors, class centres
by the pre-pass, 3 iterations) and evaluate with tools/test.py (COCO box AP
printed).

The repository configs are used through small test configs (``_base_`` =
the real config) that only shrink data, model sizes and the schedule.
"""
import pytest
import torch

from tests.test_e2e.test_detection_e2e import SHRINK, write_config
from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import last_metrics, run_tool

CASES = {
    'retinanet': dict(
        student='configs/coco/dense/retinanet/retinanet_r18_fpn_1x_coco.py',
        kdpp='configs/coco/dense/kd++/'
        'kd++_retinanet_r101-r18_fpn_1x_coco.py',
        backbone='', neck=''),
    'fcos': dict(
        student='configs/coco/dense/fcos/'
        'fcos_r50-caffe_fpn_gn-head_1x_coco.py',
        kdpp='configs/coco/dense/kd++/'
        'kd++_fcos_r101-r50_fpn_gn-head_1x_coco.py',
        # ResNet-18 (caffe style) instead of the ResNet-50 of the config
        backbone=', depth=18',
        neck='neck=dict(in_channels=[64, 128, 256, 512]),'),
    'gfl': dict(
        student='configs/coco/dense/gfl/gfl_r50_fpn_1x_coco.py',
        kdpp='configs/coco/dense/kd++/kd++_gfl_r101-r50_fpn_1x_coco.py',
        backbone=', depth=18',
        neck='neck=dict(in_channels=[64, 128, 256, 512]),'),
}

#: no pretrained weights, 3 classes, a 2 x 64-d head, every box kept
TINY_MODEL = """
model = dict(
    {neck}
    backbone=dict(init_cfg=None{backbone}),
    bbox_head=dict(num_classes={num_classes}, stacked_convs=2,
                   feat_channels=64),
    test_cfg=dict(score_thr=0.0))
"""
TEACHER_ITERS, DISTILL_ITERS = 10, 3


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dense_e2e')
    data = write_tiny_coco(str(tmp / 'coco'), num_train=8, num_val=4)
    return dict(tmp=tmp, shrink=dict(root=data['root'], classes=CLASSES),
                **data)


@pytest.mark.parametrize('kind', list(CASES))
def test_teacher_kdpp_and_test(tiny, kind):
    case, tmp = CASES[kind], tiny['tmp']
    student = write_config(
        tmp / f'{kind}_tiny.py', case['student'],
        TINY_MODEL.format(backbone=case['backbone'], neck=case['neck'],
                          num_classes=len(CLASSES)) +
        SHRINK.format(iters=TEACHER_ITERS, **tiny['shrink']))
    log = run_tool('train.py', student, '--work-dir',
                   tmp / f'{kind}_teacher').stdout
    assert f'Iter(train) [{TEACHER_ITERS}/{TEACHER_ITERS}]' in log
    teacher = str(tmp / f'{kind}_teacher' / f'iter_{TEACHER_ITERS}.pth')

    # the class-centre pre-pass sees every training image (4 batches of 2)
    config = write_config(
        tmp / f'{kind}_kdpp_tiny.py', case['kdpp'], f"""
model = dict(student={student!r}, teacher={student!r},
             teacher_ckpt={teacher!r})
custom_hooks = [dict(type='nd_mmdet.ClassCentersHook', max_iters=4)]
""" + SHRINK.format(iters=DISTILL_ITERS, **tiny['shrink']))
    work = tmp / f'{kind}_kdpp'
    log = run_tool('train.py', config, '--work-dir', work).stdout
    assert 'class centres: ' in log and 'saved to' in log
    for name in ('loss_kd', 'loss_nd', 'loss_cls', 'loss_bbox'):
        assert name + ':' in log
    centres = torch.load(work / 'class_centers.pth', weights_only=True)
    assert centres['centers'].shape == (len(CLASSES), 64)
    assert (centres['counts'] > 0).all()
    # the centres tool gives the same centres as the pre-pass (the
    # assignment of these heads does not depend on the student's weights)
    tool_out = tmp / f'{kind}_centres.pth'
    log = run_tool('compute_class_centers.py', config, '--out', tool_out,
                   '--work-dir', tmp / f'{kind}_centres').stdout
    assert f'saved ({len(CLASSES)}, 64) class centres' in log
    tool = torch.load(tool_out, weights_only=True)
    torch.testing.assert_close(tool['centers'], centres['centers'])
    assert torch.equal(tool['counts'], centres['counts'])
    ckpt_path = work / f'iter_{DISTILL_ITERS}.pth'
    ckpt = torch.load(ckpt_path, weights_only=False)
    assert all(k.startswith('student.') for k in ckpt['state_dict'])

    log = run_tool('test.py', config, ckpt_path, '--work-dir',
                   tmp / f'{kind}_test').stdout
    for metric in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l'):
        value = last_metrics(log, f'coco/bbox_{metric}')
        assert -1.0 <= value <= 1.0

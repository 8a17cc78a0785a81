"""Detection distillation end to end through the command-line tools, on a
tiny COCO-format dataset: train a tiny Faster R-CNN R18 teacher, distil it
with the repository's KD++ and ReviewKD++ configs (class centres computed
by the pre-pass), evaluate with tools/test.py, check the printed box AP
against pycocotools' COCOeval on the dumped detections, export the student
and evaluate it as a plain MMDetection detector.

The repository configs are used through small test configs (``_base_`` =
the real config) that only shrink data, model sizes and the schedule.
"""
import json
import os.path as osp
import pickle
import runpy
import sys

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import REPO, last_metrics, run_tool

STUDENT_CFG = 'configs/coco/faster_rcnn/faster-rcnn_r18_fpn_ms-1x_coco.py'
KDPP_CFG = 'configs/coco/kd++/kd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py'
RKDPP_CFG = ('configs/coco/reviewkd++/'
             'reviewkd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py')
DKDPP_CFG = 'configs/coco/dkd++/dkd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py'

#: Appended to every test config: tiny data (128 px, batch 2, no workers),
#: iteration-based schedule (the epoch loop sleeps 2 s per epoch), no warm-up
#: (20 iterations), gradient clipping (from scratch at LR 0.01).
SHRINK = """
data_root = '{root}/'
metainfo = dict(classes={classes!r})
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(128, 96), (128, 128)],
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 pipeline=test_pipeline))
test_evaluator = dict(
    ann_file=data_root + 'annotations/instances_val2017.json')
# no validation while training (tools/test.py evaluates)
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters={iters})
param_scheduler = []
optim_wrapper = dict(optimizer=dict(lr=0.01),
                     clip_grad=dict(max_norm=10.0))
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval={iters}),
                     visualization=dict(draw=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
"""

#: The tiny detector: no pretrained weights, 3 classes, fewer proposals and
#: sampled RoIs (CPU time), every box kept at test (an untrained detector
#: still outputs boxes).
TINY_MODEL = """
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes={num_classes})),
    train_cfg=dict(rpn_proposal=dict(max_per_img=200),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(max_per_img=200), rcnn=dict(score_thr=0.0)))
"""


def write_config(path, base, body):
    with open(path, 'w') as f:
        f.write(f'_base_ = {osp.join(REPO, base)!r}\n' + body)
    return str(path)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Tiny data + the plain tiny R18 detector config (teacher and the
    student of the distillers)."""
    tmp = tmp_path_factory.mktemp('det_e2e')
    data = write_tiny_coco(str(tmp / 'coco'), num_train=8, num_val=4)
    shrink = dict(root=data['root'], classes=CLASSES)
    student = write_config(
        tmp / 'faster-rcnn_r18_tiny.py', STUDENT_CFG,
        TINY_MODEL.format(num_classes=len(CLASSES)) +
        SHRINK.format(iters=20, **shrink))
    return dict(tmp=tmp, shrink=shrink, student=student, **data)


@pytest.fixture(scope='module')
def teacher(tiny):
    work = tiny['tmp'] / 'teacher'
    log = run_tool('train.py', tiny['student'], '--work-dir', work).stdout
    assert 'Iter(train) [20/20]' in log
    return str(work / 'iter_20.pth')


def distill_config(tiny, teacher, base, iters=5):
    """A repository distillation config on the tiny student / teacher."""
    name = osp.basename(base).replace('.py', '_tiny.py')
    model = f"""
model = dict(
    student={tiny['student']!r},
    teacher={tiny['student']!r},
    teacher_ckpt={teacher!r})
custom_hooks = [dict(type='nd_mmdet.ClassCentersHook', max_iters=2)]
"""
    return write_config(tiny['tmp'] / name, base,
                        model + SHRINK.format(iters=iters, **tiny['shrink']))


@pytest.fixture(scope='module')
def kdpp(tiny, teacher):
    config = distill_config(tiny, teacher, KDPP_CFG)
    work = tiny['tmp'] / 'kdpp'
    log = run_tool('train.py', config, '--work-dir', work).stdout
    return dict(config=config, work=work, log=log,
                ckpt=str(work / 'iter_5.pth'))


def export_student(*args):
    """tools/export_student.py in this process (as from the command line;
    saves a subprocess start)."""
    argv = sys.argv
    sys.argv = ['export_student.py', *map(str, args)]
    try:
        runpy.run_path(osp.join(REPO, 'tools', 'export_student.py'),
                       run_name='__main__')
    finally:
        sys.argv = argv


def coco_eval_of_dump(pkl, ann_file):
    """bbox AP of the ``--out`` dump by pycocotools, computed here: the
    pkl's predictions (resized back to the original image) -> COCO results
    json (xywh, category ids of the annotation file)."""
    with open(pkl, 'rb') as f:
        preds = pickle.load(f)
    gt = COCO(ann_file)
    name_to_id = {c['name']: c['id'] for c in gt.loadCats(gt.getCatIds())}
    cat_ids = [name_to_id[n] for n in CLASSES]
    results = []
    for pred in preds:
        inst = pred['pred_instances']
        for box, score, label in zip(
                np.asarray(inst['bboxes']).tolist(),
                np.asarray(inst['scores']).tolist(),
                np.asarray(inst['labels']).tolist()):
            x1, y1, x2, y2 = box
            results.append(dict(image_id=int(pred['img_id']),
                                category_id=cat_ids[label],
                                bbox=[x1, y1, x2 - x1, y2 - y1],
                                score=score))
    assert results, 'score_thr=0 must leave detections'
    # CocoMetric evaluates with maxDets (100, 300, 1000); with at most 100
    # boxes per image (test_cfg.rcnn.max_per_img) pycocotools' default
    # (1, 10, 100) gives the same AP.
    dt = gt.loadRes(json.loads(json.dumps(results)))
    ev = COCOeval(gt, dt, 'bbox')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev.stats, preds


def evaluate(config, ckpt, out_dir, ann_file):
    pkl = osp.join(out_dir, 'preds.pkl')
    log = run_tool('test.py', config, ckpt, '--work-dir', out_dir, '--out',
                   pkl).stdout
    names = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
    printed = {m: last_metrics(log, f'coco/bbox_{m}') for m in names}
    stats, preds = coco_eval_of_dump(pkl, ann_file)
    assert printed == {m: round(float(v), 3) for m, v in zip(names, stats)}
    return printed, preds


def test_kdpp_trains_with_centres_and_keeps_teacher(kdpp, teacher):
    log = kdpp['log']
    assert 'class centres: ' in log and 'saved to' in log
    for name in ('loss_kd', 'loss_nd', 'loss_cls', 'loss_rpn_cls'):
        assert name + ':' in log
    centres = torch.load(kdpp['work'] / 'class_centers.pth',
                         weights_only=True)
    assert centres['centers'].shape == (len(CLASSES) + 1, 1024)
    assert centres['counts'][-1] > 0, 'background RoIs were counted'
    ckpt = torch.load(kdpp['ckpt'], weights_only=False)
    keys = list(ckpt['state_dict'])
    assert keys and all(k.startswith('student.') for k in keys)
    assert ckpt['meta']['dataset_meta']['classes'] == CLASSES


def test_reviewkdpp_trains(tiny, teacher):
    config = distill_config(tiny, teacher, RKDPP_CFG)
    work = tiny['tmp'] / 'rkdpp'
    log = run_tool('train.py', config, '--work-dir', work).stdout
    assert 'class centres: ' in log and 'saved to' in log
    for name in ('loss_hcl', 'loss_nd', 'loss_cls'):
        assert name + ':' in log
    keys = list(torch.load(work / 'iter_5.pth',
                           weights_only=False)['state_dict'])
    assert any(k.startswith('connectors.student_feats.abfs.4') for k in keys)
    assert all(k.startswith(('student.', 'connectors.')) for k in keys)


def test_dkdpp_trains(tiny, teacher):
    config = distill_config(tiny, teacher, DKDPP_CFG)
    work = tiny['tmp'] / 'dkdpp'
    log = run_tool('train.py', config, '--work-dir', work).stdout
    for name in ('loss_dkd', 'loss_nd', 'loss_cls'):
        assert name + ':' in log
    keys = list(torch.load(work / 'iter_5.pth',
                           weights_only=False)['state_dict'])
    assert keys and all(k.startswith('student.') for k in keys)


def test_ap_matches_cocoeval_and_export(tiny, kdpp):
    ann_file = osp.join(tiny['root'], tiny['val_ann'])
    distilled, preds = evaluate(kdpp['config'], kdpp['ckpt'],
                                str(tiny['tmp'] / 'test_kdpp'), ann_file)

    exported = str(tiny['tmp'] / 'export' / 'student.pth')
    plain_cfg = str(tiny['tmp'] / 'export' / 'student_plain.py')
    export_student(kdpp['config'], kdpp['ckpt'], exported, '--save-config',
                   plain_cfg)
    ckpt = torch.load(exported, weights_only=True)
    assert not any(k.startswith(('student.', 'connectors.', 'teacher'))
                   for k in ckpt['state_dict'])
    assert tuple(ckpt['meta']['dataset_meta']['classes']) == CLASSES

    # tools/test.py on the plain tiny student config and the exported file
    plain, plain_preds = evaluate(tiny['student'], exported,
                                  str(tiny['tmp'] / 'test_plain'), ann_file)
    assert plain == distilled
    assert len(plain_preds) == len(preds)
    for a, b in zip(preds, plain_preds):
        assert a['img_id'] == b['img_id']
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(torch.as_tensor(a['pred_instances'][key]),
                               torch.as_tensor(b['pred_instances'][key]))

    # MMDetection's own API with the written plain config, on an image that
    # its test batch did not pad (padding changes the FPN features)
    from mmdet.apis import inference_detector, init_detector
    model = init_detector(plain_cfg, exported, device='cpu')
    assert tuple(model.dataset_meta['classes']) == CLASSES
    unpadded = [p for p in preds
                if tuple(p['pad_shape']) == tuple(p['batch_input_shape'])]
    assert unpadded
    result = inference_detector(model, unpadded[0]['img_path'])
    for key in ('bboxes', 'scores', 'labels'):
        torch.testing.assert_close(
            getattr(result.pred_instances, key),
            torch.as_tensor(unpadded[0]['pred_instances'][key]))

"""The two-stage demo configs (configs/demo/two_stage/): every config
builds from scratch with the classes of its data, every linked width of
both Faster R-CNNs follows the one width variable of each model (the box
feature: the teacher's width on both sides, no projector), and the
KD++ distiller trains two iterations on tiny scenes through the Runner
(class-centre pre-pass included)."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from nd_mmdet.datasets.fashion_mnist_scenes import write_coco_scenes
from nd_mmdet.registry import MODELS
from nd_mmdet.utils import build_model_from_spec
from tests.tools_runner import REPO

torch.set_num_threads(1)

FOLDER = osp.join(REPO, 'configs', 'demo', 'two_stage')
MODELS_BASE = osp.join(FOLDER, '_base_', 'faster_rcnn_fmnist_det.py')
KDPP = osp.join(FOLDER, 'kd++_faster-rcnn_w32-w8_fmnist-det-1k.py')
#: top-level config -> the models it trains ('teacher', 'student' or both)
CONFIGS = {
    'faster-rcnn_w32_fmnist-det-full.py': ('teacher', ),
    'faster-rcnn_w8_fmnist-det-1k.py': ('student', ),
    'kd_faster-rcnn_w32-w8_fmnist-det-1k.py': ('teacher', 'student'),
    'kd++_faster-rcnn_w32-w8_fmnist-det-1k.py': ('teacher', 'student'),
    'dkd_faster-rcnn_w32-w8_fmnist-det-1k.py': ('teacher', 'student'),
    'dkd++_faster-rcnn_w32-w8_fmnist-det-1k.py': ('teacher', 'student'),
    'reviewkd_faster-rcnn_w32-w8_fmnist-det-1k.py': ('teacher', 'student'),
    'reviewkd++_faster-rcnn_w32-w8_fmnist-det-1k.py': ('teacher', 'student'),
}


def test_the_folder_holds_exactly_these_configs():
    found = {osp.basename(p) for p in glob.glob(osp.join(FOLDER, '*.py'))}
    assert found == set(CONFIGS)


def detectors(cfg, sides):
    """The detector config of each side (a plain detector config for a
    config that trains one model)."""
    if len(sides) == 1:
        return {sides[0]: cfg.model}
    assert cfg.model.type == 'TwoStageDistiller'
    return {side: cfg.model[side] for side in sides}


def check_widths(detector, width, box_width):
    """Every linked width of a built Faster R-CNN, from its stem width.

    Layout (stem width w): backbone stages w, 2w, 4w (stages 2-3 read),
    FPN [2w, 4w] -> 2w, RPN 2w, RoIAlign 7 x 7 x 2w, box feature
    ``box_width``.
    """
    fpn = 2 * width
    backbone = detector.backbone
    assert backbone.layer1[0].conv1.in_channels == width
    assert [backbone.layer2[-1].conv2.out_channels,
            backbone.layer3[-1].conv2.out_channels] == [2 * width, 4 * width]
    neck = detector.neck
    assert [c.conv.in_channels for c in neck.lateral_convs] == \
        [2 * width, 4 * width]
    assert {c.conv.out_channels for c in neck.fpn_convs} == {fpn}
    assert detector.rpn_head.rpn_conv.in_channels == fpn
    assert detector.rpn_head.rpn_conv.out_channels == fpn
    assert detector.roi_head.bbox_roi_extractor.out_channels == fpn
    fcs = detector.roi_head.bbox_head.shared_fcs
    assert fcs[0].in_features == fpn * 7 * 7
    assert [fc.out_features for fc in fcs] == [box_width] * 2


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds_from_scratch_with_its_classes(name, tmp_path):
    cfg = Config.fromfile(osp.join(FOLDER, name))
    assert len(cfg.classes) == 10
    assert cfg.train_dataloader.dataset.metainfo.classes == cfg.classes
    assert cfg.test_dataloader.dataset.metainfo.classes == cfg.classes
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_iters
    widths = dict(teacher=cfg.teacher_width, student=cfg.student_width)
    for side, det in detectors(cfg, CONFIGS[name]).items():
        assert det.backbone.init_cfg is None
        assert det.backbone.frozen_stages == -1
        assert det.backbone.norm_eval is False
        assert det.roi_head.bbox_head.num_classes == len(cfg.classes)
        model = build_model_from_spec(det.to_dict())
        assert model.roi_head.bbox_head.num_classes == 10
        # both box features are the teacher's 8 w wide: ND reads them as
        # they are (the paper's pairs), no projector
        check_widths(model, widths[side], 8 * cfg.teacher_width)
        if side == 'teacher' and cfg.model.type == 'TwoStageDistiller':
            cfg.model.teacher_ckpt = str(tmp_path / 'teacher.pth')
            torch.save(model.state_dict(), cfg.model.teacher_ckpt)
    if cfg.model.type == 'TwoStageDistiller':
        distiller = MODELS.build(cfg.model)
        # K = 10 classes + background, the teacher's 256-d box feature
        assert distiller.expected_centers_shape() == (11, 256)


def test_distillers_share_the_student_setup():
    alone = Config.fromfile(
        osp.join(FOLDER, 'faster-rcnn_w8_fmnist-det-1k.py'))
    for name in sorted(n for n, sides in CONFIGS.items() if len(sides) == 2):
        cfg = Config.fromfile(osp.join(FOLDER, name))
        assert cfg.model.student == alone.model
        assert cfg.train_dataloader == alone.train_dataloader
        assert cfg.param_scheduler == alone.param_scheduler
        assert cfg.train_cfg == alone.train_cfg
        assert cfg.optim_wrapper == alone.optim_wrapper
    teacher = Config.fromfile(
        osp.join(FOLDER, 'faster-rcnn_w32_fmnist-det-full.py'))
    nd = dict(type='NDLoss', loss_weight=1.0)
    review = {'student_feats': dict(
        type='ReviewKDConnector', in_channels=[16, 16],
        out_channels=[64, 64], mid_channels=64)}
    for method, losses, connectors in (
            ('kd', ['loss_kd'], {}),
            ('kd++', ['loss_kd', 'loss_nd'], {}),
            ('dkd', ['loss_dkd'], {}),
            ('dkd++', ['loss_dkd', 'loss_nd'], {}),
            ('reviewkd', ['loss_hcl'], review),
            ('reviewkd++', ['loss_hcl', 'loss_nd'], review)):
        cfg = Config.fromfile(
            osp.join(FOLDER, f'{method}_faster-rcnn_w32-w8_fmnist-det-1k.py'))
        assert sorted(cfg.model.distill_losses) == sorted(losses), method
        if 'loss_nd' in losses:
            assert cfg.model.distill_losses.loss_nd.to_dict() == nd
        assert (cfg.model.get('connectors') or {}) == connectors, method
        assert cfg.model.teacher == teacher.model
    for method in ('dkd', 'dkd++'):
        dkd = Config.fromfile(osp.join(
            FOLDER, f'{method}_faster-rcnn_w32-w8_fmnist-det-1k.py'))
        assert dkd.model.distill_losses.loss_dkd.to_dict() == dict(
            type='DKDLoss', alpha=1.0, beta=8.0, temperature=1.0,
            loss_weight=1.0)
    # X++ is X + ND, nothing else: the pair differs only by loss_nd
    for method in ('kd', 'dkd', 'reviewkd'):
        base, plus = (Config.fromfile(osp.join(
            FOLDER, f'{m}_faster-rcnn_w32-w8_fmnist-det-1k.py')).to_dict()
            for m in (method, method + '++'))
        assert plus['model']['distill_losses'].pop('loss_nd') == nd
        assert plus == base, method


def test_model_parts_match_the_demo_configs():
    """The model-only parts that configs of one's own list (_base_/
    teacher.py, student.py, kd.py, kd++.py) are the demo's models but for
    num_classes, which the data sets."""
    def without_classes(model):
        model = model.to_dict()
        for det in (model, model.get('teacher'), model.get('student')):
            if det and 'roi_head' in det:
                det['roi_head']['bbox_head'].pop('num_classes', None)
        return model

    for part, name in (('teacher', 'faster-rcnn_w32_fmnist-det-full.py'),
                       ('student', 'faster-rcnn_w8_fmnist-det-1k.py'),
                       ('kd', 'kd_faster-rcnn_w32-w8_fmnist-det-1k.py'),
                       ('kd++', 'kd++_faster-rcnn_w32-w8_fmnist-det-1k.py')):
        parts = Config.fromfile(osp.join(FOLDER, '_base_', f'{part}.py'))
        assert 'train_dataloader' not in parts and 'train_cfg' not in parts
        demo = Config.fromfile(osp.join(FOLDER, name))
        assert without_classes(parts.model) == without_classes(demo.model)


def test_one_variable_sets_every_linked_width(tmp_path):
    """The models file with another student width: the student is rebuilt
    with every linked width changed, and runs a training step."""
    from mmdet.testing import demo_mm_inputs
    with open(MODELS_BASE) as f:
        text = f.read()
    assert text.count('student_width = 8\n') == 1
    path = tmp_path / 'faster_rcnn_w12.py'
    path.write_text(text.replace('student_width = 8\n',
                                 'student_width = 12\n'))
    cfg = Config.fromfile(str(path))
    assert cfg.student_embed_projector.in_channels == 96
    det = cfg.student_model
    det.roi_head.bbox_head.num_classes = 3
    model = build_model_from_spec(det.to_dict()).train()
    check_widths(model, 12, 8 * cfg.teacher_width)
    data = demo_mm_inputs(2, (3, 64, 64), num_items=[2, 1], num_classes=3)
    data = model.data_preprocessor(data, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total) and total > 0


def tiny_scenes(root, num_train=8, num_val=4):
    """Scenes of bright rectangles, labels 0-9, in the demo's COCO
    layout."""
    rng = np.random.default_rng(0)
    items = np.zeros((20, 28, 28), np.uint8)
    for i in range(len(items)):
        x0, y0 = rng.integers(0, 8, size=2)
        x1, y1 = rng.integers(20, 28, size=2)
        items[i, y0:y1, x0:x1] = 200
    labels = (np.arange(len(items)) % 10).astype(np.uint8)
    write_coco_scenes(root, items, labels, items, labels,
                      num_train=num_train, num_val=num_val)


def tiny_kdpp_config(tmp_path, max_iters=2, config=KDPP):
    """The KD++ demo config (or another distiller ``config``) on tiny
    scenes written under ``tmp_path``, a random teacher (seed 0), batches of
    4, ``max_iters`` iterations, every iteration logged."""
    tiny_scenes(str(tmp_path / 'scenes'))
    cfg = Config.fromfile(config)
    teacher_ckpt = str(tmp_path / 'teacher.pth')
    torch.manual_seed(0)
    teacher = build_model_from_spec(cfg.model.teacher.to_dict())
    torch.save(teacher.state_dict(), teacher_ckpt)
    root = str(tmp_path / 'scenes') + '/'
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'model.teacher_ckpt': teacher_ckpt,
        'train_dataloader.batch_size': 4,
        'train_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
        'test_evaluator.ann_file': root + 'annotations/instances_val.json',
        'train_cfg.max_iters': max_iters,
        'default_hooks.logger.interval': 1,
    })
    return cfg


def test_kdpp_trains_two_iterations_on_tiny_scenes(tmp_path):
    cfg = tiny_kdpp_config(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    centres = torch.load(osp.join(cfg.work_dir, 'class_centers.pth'),
                         weights_only=True)
    # K = 10 classes + background, the teacher's 256-d box feature
    assert tuple(centres['centers'].shape) == (11, 256)
    assert centres['counts'][-1] > 0, 'background RoIs were counted'
    hub = runner.message_hub
    assert runner.iter == 2
    for name in ('loss_kd', 'loss_nd', 'loss_cls', 'loss_rpn_cls'):
        value = hub.get_scalar(f'train/{name}').current()
        assert np.isfinite(value) and value > 0, name
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))
    assert runner.model.expected_centers_shape() == (11, 256)


@pytest.mark.parametrize('method,losses', [
    ('dkd++', ('loss_dkd', 'loss_nd')),
    ('reviewkd++', ('loss_hcl', 'loss_nd')),
])
def test_other_distillers_train_two_iterations(method, losses, tmp_path):
    cfg = tiny_kdpp_config(tmp_path, config=osp.join(
        FOLDER, f'{method}_faster-rcnn_w32-w8_fmnist-det-1k.py'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    for name in losses + ('loss_cls', ):
        value = runner.message_hub.get_scalar(f'train/{name}').current()
        assert np.isfinite(value) and value > 0, name
    state = torch.load(osp.join(cfg.work_dir, 'iter_2.pth'),
                       weights_only=False)['state_dict']
    assert not any(k.startswith('teacher.') for k in state)
    assert any(k.startswith('connectors.student_feats.') for k in state) \
        == (method == 'reviewkd++')

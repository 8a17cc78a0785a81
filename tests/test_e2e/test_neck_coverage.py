"""Coverage matrix of NeckDistiller: every detector family of
tests/detector_zoo.py (tiny versions of MMDetection's own configs) distilled
from a same-family teacher of twice the width, plus heterogeneous pairs,
each built and trained in-process through the mmengine Runner on the tiny
COCO data, with PKD and CWD on the paired neck levels and ND at the
ground-truth boxes (class centres from the Runner's pre-pass).

Each case asserts that the Runner trains two iterations after computing
the class centres, and that on a training batch every distillation loss is
finite and non-zero and its gradient reaches the student's backbone.
Teachers are random (the losses' values are checked elsewhere) and saved
once per family.
"""
import pytest
import torch
from mmengine.runner import Runner

from tests.detector_zoo import (FAMILIES, level_layout, set_epoch_info,
                                tiny_detector, train_pipeline)
from tests.tiny_coco import CLASSES, write_tiny_coco

torch.set_num_threads(1)

#: (teacher family, student family)
HETEROGENEOUS = (
    ('fcos', 'retinanet'),
    ('faster_rcnn', 'retinanet'),
    ('faster_rcnn', 'rtmdet'),
    ('deformable_detr', 'rtmdet'),
    ('cascade_rcnn', 'yolox'),
)
CASES = tuple((f, f) for f in FAMILIES) + HETEROGENEOUS
LOSSES = dict(loss_pkd=dict(type='PKDLoss', loss_weight=1.0),
              loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=1.0),
              loss_nd=dict(type='NDLoss', loss_weight=1.0))
ITERS = 2


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('neck_coco'))
    # masks for Mask R-CNN; the other families ignore them
    return write_tiny_coco(root, num_train=4, num_val=2, with_masks=True)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """family -> checkpoint of a random width-2 teacher, saved once."""
    tmp = tmp_path_factory.mktemp('neck_teachers')
    saved = {}

    def get(family):
        if family not in saved:
            from nd_mmdet.utils import build_model_from_spec
            torch.manual_seed(1)
            model = build_model_from_spec(tiny_detector(family, width=2))
            saved[family] = str(tmp / f'{family}.pth')
            torch.save(dict(state_dict=model.state_dict()), saved[family])
        return saved[family]

    return get


def shared_strides(teacher, student):
    t_strides = level_layout(teacher)['strides']
    return [s for s in level_layout(student)['strides'] if s in t_strides]


def projector(teacher, student):
    return dict(type='EmbeddingProjector',
                in_channels=level_layout(student)['channels'][1],
                out_channels=level_layout(teacher)['channels'][2])


def neck_model(teacher, student):
    """NeckDistiller with PKD + CWD on the paired levels and ND at the
    ground-truth boxes."""
    connectors = dict(
        student_feats=dict(
            type='ConvBNConnector',
            in_channels=level_layout(student)['channels'][1],
            out_channels=level_layout(teacher)['channels'][2],
            num_levels=len(shared_strides(teacher, student))),
        student_embed=projector(teacher, student))
    return dict(type='NeckDistiller', connectors=connectors,
                distill_losses=LOSSES)


def runner_config(teacher, student, ckpt, coco, work_dir, model):
    """Tiny data and a 2-iteration schedule around ``model`` (a distiller
    config without its student / teacher)."""
    dataset = dict(
        type='CocoDataset', data_root=coco['root'],
        ann_file=coco['train_ann'], data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=CLASSES),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline(student))
    return dict(
        default_scope='mmdet',
        work_dir=str(work_dir),
        experiment_name=f'neck-{teacher}-{student}',
        model=dict(
            model, _scope_='nd_mmdet',
            student=tiny_detector(student, width=1),
            teacher=tiny_detector(teacher, width=2), teacher_ckpt=ckpt),
        train_dataloader=dict(
            batch_size=2, num_workers=0, dataset=dataset,
            sampler=dict(type='InfiniteSampler', shuffle=False)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=ITERS),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.001, momentum=0.9),
            clip_grad=dict(max_norm=10.0)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=ITERS,
                            by_epoch=False, save_last=False)),
        custom_hooks=[dict(type='nd_mmdet.ClassCentersHook', max_iters=2)],
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0))


@pytest.mark.parametrize('teacher,student', CASES,
                         ids=[f'{t}->{s}' for t, s in CASES])
def test_neck_distillation(teacher, student, coco, teacher_ckpt, tmp_path):
    runner = Runner.from_cfg(runner_config(
        teacher, student, teacher_ckpt(teacher), coco, tmp_path,
        neck_model(teacher, student)))
    pairs = runner.model.level_pairs
    assert [p.student.stride for p in pairs] == \
        shared_strides(teacher, student)
    train_and_check(runner, LOSSES, tmp_path)


#: family -> head-level KD++ (distiller, KD loss, distiller options)
#: family -> head-level KD++ (distiller, KD loss, distiller options,
#: student / teacher embedding widths: the dense heads' classification
#: branch 16 / 32, the cascade's box-head FCs 32 / 64)
HEAD_LEVEL_KDPP = dict(
    atss=('DenseDistiller', dict(type='BinaryKDLoss', temperature=1.0),
          dict(kd_at_negatives=True), (16, 32)),
    rtmdet=('DenseDistiller', dict(type='BinaryKDLoss', temperature=1.0),
            dict(kd_at_negatives=True), (16, 32)),
    cascade_rcnn=('TwoStageDistiller', dict(type='KDLoss', temperature=1.0),
                  {}, (32, 64)))


@pytest.mark.parametrize('family', sorted(HEAD_LEVEL_KDPP))
def test_head_level_kdpp(family, coco, teacher_ckpt, tmp_path):
    distiller, kd, options, (s_dim, t_dim) = HEAD_LEVEL_KDPP[family]
    losses = dict(loss_kd=kd, loss_nd=dict(type='NDLoss'))
    embed = dict(type='EmbeddingProjector', in_channels=s_dim,
                 out_channels=t_dim)
    runner = Runner.from_cfg(runner_config(
        family, family, teacher_ckpt(family), coco, tmp_path,
        dict(type=distiller, distill_losses=losses,
             connectors=dict(student_embed=embed), **options)))
    train_and_check(runner, losses, tmp_path)


def train_and_check(runner, distill_losses, work_dir):
    """The Runner's class-centre pre-pass and two iterations; then, on a
    training batch, each distillation loss is finite, non-zero and sends
    gradient to the student's backbone; the teacher stays frozen."""
    model = runner.model
    runner.train()  # the class-centre pre-pass, then two iterations
    assert runner.iter == ITERS
    assert not model.teacher.training
    centres = torch.load(work_dir / 'class_centers.pth', weights_only=True)
    assert centres['counts'].sum() > 0 and torch.isfinite(
        centres['centers']).all()

    # a batch of the training set (not from the loader: its infinite
    # sampler's one index stream is the training loop's)
    loader = runner.train_dataloader
    batch = loader.collate_fn([loader.dataset[0], loader.dataset[1]])
    data = model.data_preprocessor(batch, True)
    set_epoch_info(0)  # TOOD's head reads it (the Runner sets it in train)
    model.zero_grad()
    losses = model.loss(**data)
    distill = [losses[name] for name in distill_losses]
    for name, value in zip(distill_losses, distill):
        assert torch.isfinite(value) and value.item() > 0, (name, value)
    for value in distill:
        value.backward(retain_graph=True)
        grads = [p.grad for p in model.student.backbone.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
        model.zero_grad()
    assert all(p.grad is None for p in model.teacher.parameters())


#: families the head-level distillers refuse -> the distiller a user tries
HEAD_LEVEL_REFUSED = dict(
    tood='DenseDistiller', vfnet='DenseDistiller',
    paa='DenseDistiller', yolox='DenseDistiller',
    centernet='DenseDistiller', deformable_detr='DenseDistiller')


@pytest.mark.parametrize('family', sorted(HEAD_LEVEL_REFUSED))
def test_head_level_refusal_names_the_neck_alternative(family,
                                                       teacher_ckpt):
    from nd_mmdet.registry import MODELS
    with pytest.raises(ValueError) as error:
        MODELS.build(dict(
            type=HEAD_LEVEL_REFUSED[family], _scope_='nd_mmdet',
            student=tiny_detector(family, width=1),
            teacher=tiny_detector(family, width=2),
            teacher_ckpt=teacher_ckpt(family),
            distill_losses=dict(loss_kd=dict(type='KDLoss'))))
    message = str(error.value)
    assert '\n' not in message
    assert "type='NeckDistiller'" in message and 'PKDLoss' in message
    assert 'ND at its ground-truth boxes with NDLoss' in message

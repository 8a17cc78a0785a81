"""Paired seeds: what one method adds (a projector, an ND loss, sampled
negatives, the class-centre pre-pass) leaves the student's run of a seed
bit-identical when its weight is 0 (nd_mmdet.utils.rng).

Before the streams were separated, building a projector shifted the
student's ``init_weights`` draws and its dropout shifted the RoI sampler's
draws of every later iteration, so "KD++" and "KD" of one seed trained
different students even with ND switched off."""
import copy

import torch
from mmdet.testing import demo_mm_inputs
from mmengine.optim import OptimWrapper

from nd_mmdet.models.distillers import TwoStageDistiller
from nd_mmdet.registry import MODELS
from tests.test_models.test_distillers.test_two_stage_distiller import (
    K, detector_cfg, teacher_ckpt)  # noqa: F401  (fixture)

torch.set_num_threads(1)

KD = dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.0))
KD_PP = dict(KD, loss_nd=dict(type='NDLoss', loss_weight=0.0))
PROJECTOR = dict(student_embed=dict(
    type='EmbeddingProjector', in_channels=1024, out_channels=1024,
    dropout=0.5))


def small_student():
    cfg = detector_cfg()
    cfg.train_cfg.rcnn.sampler.num = 32
    return cfg


def build_run(ckpt, method):
    """Seed 0, build, ``init_weights`` (as the Runner does), then the
    student's weights after 3 SGD steps on the same batches."""
    torch.manual_seed(0)
    if method == 'alone':
        model = MODELS.build(small_student())
    else:
        losses, connectors = method
        model = TwoStageDistiller(
            student=small_student(), teacher=detector_cfg(),
            teacher_ckpt=ckpt, distill_losses=copy.deepcopy(losses),
            connectors=copy.deepcopy(connectors))
        if model.needs_class_centers:
            gen = torch.Generator().manual_seed(5)
            model.set_class_centers(
                torch.rand(*model.expected_centers_shape(), generator=gen))
    model.init_weights()
    model.train()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01))
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=K)
    losses = []
    for _ in range(3):
        batch = model.data_preprocessor(copy.deepcopy(data), True)
        loss_dict = model.loss(batch['inputs'], batch['data_samples'])
        loss, _ = model.parse_losses(loss_dict)
        optim.update_params(loss)
        losses.append(loss.item())
    student = model if method == 'alone' else model.student
    return losses, {k: v.clone() for k, v in student.state_dict().items()}


def test_unused_additions_leave_the_students_run_bit_identical(teacher_ckpt):
    alone_losses, alone = build_run(teacher_ckpt, 'alone')
    for method in ((KD, None), (KD, PROJECTOR), (KD_PP, PROJECTOR)):
        losses, weights = build_run(teacher_ckpt, method)
        # the task losses: the weight-0 distillation terms add exactly 0
        assert losses == alone_losses, method
        assert weights.keys() == alone.keys()
        for key, value in alone.items():
            assert torch.equal(value, weights[key]), (method, key)


def test_distiller_build_leaves_the_global_stream_where_the_student_left_it(
        teacher_ckpt):
    torch.manual_seed(3)
    MODELS.build(small_student())
    after_student = torch.rand(4)
    torch.manual_seed(3)
    TwoStageDistiller(
        student=small_student(), teacher=detector_cfg(),
        teacher_ckpt=teacher_ckpt, distill_losses=copy.deepcopy(KD_PP),
        connectors=copy.deepcopy(PROJECTOR))
    assert torch.equal(torch.rand(4), after_student)

"""``copy.deepcopy`` of a distiller (mmengine's EMAHook averages a deep
copy) records into the copy: the student's recorders are copied with the
student and their hooks rebound to the copies; the shared frozen teacher
keeps its recorders, shared with it. Before, the copy's hooks (closures)
wrote into the original's recorder and the copy's loss step found nothing
(``KeyError: 'student_logits'``)."""
import copy

import torch
from mmengine.model import ExponentialMovingAverage
from torch import nn

from nd_mmdet.models.distillers.recorder import OutputRecorder, hook_owners
from tests.test_models.test_distillers.test_classification_distiller import (
    KD_ND, batch, build, mmpretrain_scope)  # noqa: F401 (fixture)

torch.set_num_threads(1)


class Holder(nn.Module):
    """A model that owns a recorder of its own sub-module."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.recorder = OutputRecorder(self, dict(hidden='body.0'))

    def forward(self, x):
        return self.body(x)


def test_a_copied_recorder_records_the_copy():
    torch.manual_seed(0)
    original = Holder()
    twin = copy.deepcopy(original)
    with torch.no_grad():
        twin.body[0].weight.mul_(3)
    x = torch.randn(5, 3)
    with original.recorder.recording() as mine, \
            twin.recorder.recording() as theirs:
        twin(x)
        assert mine == {}
        torch.testing.assert_close(theirs['hidden'], twin.body[0](x))
        original(x)
        torch.testing.assert_close(mine['hidden'], original.body[0](x))
    assert hook_owners(twin) == [twin.recorder]
    assert hook_owners(original) == [original.recorder]


def set_centers(model):
    torch.manual_seed(1)
    model.set_class_centers(torch.rand(*model.expected_centers_shape()) + .1)


def test_a_distiller_copy_computes_its_own_losses(tmp_path):
    model = build(tmp_path, KD_ND)
    set_centers(model)
    inputs, samples = batch()
    before = model.loss(inputs, samples)
    twin = copy.deepcopy(model)
    assert twin.teacher is model.teacher
    assert twin.teacher_recorder is model.teacher_recorder
    assert twin.student is not model.student
    assert twin.student_recorder is not model.student_recorder
    same = twin.loss(inputs, samples)
    assert set(same) == {'loss_cls', 'loss_kd', 'loss_nd'}
    for key in before:
        torch.testing.assert_close(same[key], before[key])
    # the copy's own student, not the original's, feeds its losses
    with torch.no_grad():
        twin.student.head.fc.weight.mul_(3)
    changed = twin.loss(inputs, samples)
    assert abs(changed['loss_kd'].item() - before['loss_kd'].item()) > 1e-3
    again = model.loss(inputs, samples)
    for key in before:
        torch.testing.assert_close(again[key], before[key])


def test_ema_of_a_distiller_runs_the_loss_step(tmp_path):
    """What EMAHook does: ``ExponentialMovingAverage(model)`` keeps a deep
    copy, whose loss step (a check or a validation in loss mode) works."""
    model = build(tmp_path, KD_ND)
    set_centers(model)
    ema = ExponentialMovingAverage(model)
    inputs, samples = batch(seed=3)
    losses = ema.module.loss(inputs, samples)
    expected = model.loss(inputs, samples)
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key])


def test_a_two_stage_distiller_copy_records_rois_and_logits(tmp_path):
    """The two-stage distiller's student recorders include forward
    pre-hooks (RoIs and labels); the copy's loss step equals the
    original's on the same batch and random stream."""
    from mmdet.registry import MODELS

    from tests.test_models.test_distillers import \
        test_two_stage_distiller as two_stage
    torch.manual_seed(1)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=MODELS.build(
        two_stage.detector_cfg()).state_dict()), ckpt)
    model = two_stage.build(ckpt).train()
    twin = copy.deepcopy(model)
    inputs, _ = two_stage.batch(model)
    losses = []
    for distiller in (twin, model):
        torch.manual_seed(5)
        losses.append(distiller.loss(inputs['inputs'],
                                     inputs['data_samples']))
    assert {'loss_kd', 'loss_nd'} <= set(losses[0])
    for key in ('loss_cls', 'loss_kd', 'loss_nd'):
        torch.testing.assert_close(losses[0][key], losses[1][key])

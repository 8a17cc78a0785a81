"""NeckDistiller on tiny MMDetection detectors (tests/detector_zoo.py):
stride matching across families, the teacher's re-normalised input, the
values handed to the losses checked against extract_feat computed by hand,
gradients, the teacher rules and the build-time errors."""
import copy

import pytest
import torch
from mmdet.testing import demo_mm_inputs

from nd_mmdet.models.distillers import NeckDistiller
from nd_mmdet.registry import MODELS
from nd_mmdet.utils import build_model_from_spec
from tests.detector_zoo import tiny_detector

torch.set_num_threads(1)

PKD = dict(loss_pkd=dict(type='PKDLoss', loss_weight=1.0))


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    """Random width-2 teachers of three families, saved once."""
    tmp = tmp_path_factory.mktemp('neck_teachers')
    paths = {}
    for family in ('faster_rcnn', 'retinanet', 'rtmdet'):
        torch.manual_seed(1)
        model = build_model_from_spec(tiny_detector(family, width=2))
        paths[family] = str(tmp / f'{family}.pth')
        torch.save(dict(state_dict=model.state_dict()), paths[family])
    return paths


def connector(student, teacher, num_levels):
    return dict(student_feats=dict(type='ConvBNConnector',
                                   in_channels=16 * student,
                                   out_channels=16 * teacher,
                                   num_levels=num_levels))


def build(student, teacher, ckpts, losses=PKD, width=1, **kwargs):
    torch.manual_seed(0)
    return NeckDistiller(
        student=tiny_detector(student, width=width),
        teacher=tiny_detector(teacher, width=2),
        teacher_ckpt=ckpts[teacher], distill_losses=copy.deepcopy(losses),
        **kwargs)


def raw_batch():
    return demo_mm_inputs(2, (3, 96, 128), num_items=[3, 2], num_classes=3)


def test_heterogeneous_pair_values(ckpts):
    """Faster R-CNN (P2-P6, RGB, torchvision mean/std) teacher -> RTMDet
    (strides 8-32, BGR) student: pairs on 8, 16, 32; the teacher's maps are
    its extract_feat on the images preprocessed its own way; the student's
    are its extract_feat on its own batch."""
    distiller = build('rtmdet', 'faster_rcnn', ckpts,
                      connectors=connector(1, 2, 3))
    pairs = distiller.level_pairs
    assert [p.student.stride for p in pairs] == [8, 16, 32]
    assert [(p.student.index, p.teacher.index) for p in pairs] == \
        [(0, 1), (1, 2), (2, 3)]
    # RTMDet: BGR with the BGR-ordered means; Faster R-CNN: RGB -> only the
    # channel order differs
    assert distiller.teacher_input.flip and not distiller.teacher_input.affine
    raw = raw_batch()
    data = distiller.data_preprocessor(copy.deepcopy(raw), True)
    # the student's levels, with BN in eval so that a second forward agrees
    distiller.student.eval()
    _, values = distiller.forward_distill(data['inputs'],
                                          data['data_samples'])
    teacher_data = distiller.teacher.data_preprocessor(copy.deepcopy(raw),
                                                       True)
    assert not torch.equal(teacher_data['inputs'], data['inputs'])
    t_feats = distiller.teacher.extract_feat(teacher_data['inputs'])
    s_feats = distiller.student.extract_feat(data['inputs'])
    conn = distiller.connectors['student_feats']
    for i, pair in enumerate(pairs):
        torch.testing.assert_close(values['teacher_feats'][i],
                                   t_feats[pair.teacher.index], atol=1e-4,
                                   rtol=1e-4)
        torch.testing.assert_close(
            values['student_feats'][i],
            conn.convs[i](s_feats[pair.student.index]), atol=1e-5, rtol=1e-5)
        assert values['student_feats'][i].shape == \
            values['teacher_feats'][i].shape


def test_losses_gradients_and_teacher_rules(ckpts):
    distiller = build('retinanet', 'faster_rcnn', ckpts,
                      losses=dict(PKD, loss_cwd=dict(type='CWDLoss')),
                      connectors=connector(1, 2, 4)).train()
    assert [p.student.stride for p in distiller.level_pairs] == \
        [8, 16, 32, 64]
    assert not distiller.teacher.training
    data = distiller.data_preprocessor(raw_batch(), True)
    losses = distiller.loss(data['inputs'], data['data_samples'])
    assert {'loss_pkd', 'loss_cwd', 'loss_cls', 'loss_bbox'} <= set(losses)
    for name in ('loss_pkd', 'loss_cwd'):
        assert torch.isfinite(losses[name]) and losses[name] > 0
    (losses['loss_pkd'] + losses['loss_cwd']).backward()
    neck_grad = distiller.student.neck.fpn_convs[0].conv.weight.grad
    assert neck_grad is not None and neck_grad.abs().sum() > 0
    assert distiller.connectors['student_feats'].convs[0][0].weight.grad \
        is not None
    assert all(p.grad is None and not p.requires_grad
               for p in distiller.teacher.parameters())
    assert not any(k.startswith('teacher') or '_teacher' in k
                   for k in distiller.state_dict())
    assert not any(p is q for p in distiller.parameters()
                   for q in distiller.teacher.parameters())


def test_identical_models_give_zero_pkd(ckpts):
    """Student = teacher (same weights and preprocessing, BN in eval):
    every paired map is equal and PKD is 0."""
    distiller = build('retinanet', 'retinanet', ckpts, width=2)
    distiller.student.load_state_dict(
        torch.load(ckpts['retinanet'])['state_dict'])
    distiller.student.eval()
    assert not distiller.teacher_input.remap
    data = distiller.data_preprocessor(raw_batch(), True)
    _, values = distiller.forward_distill(data['inputs'],
                                          data['data_samples'])
    assert len(values['student_feats']) == 5
    losses = distiller.compute_distill_losses(values)
    assert losses['loss_pkd'].item() == pytest.approx(0.0, abs=1e-6)


def test_teacher_skipped_when_no_loss_reads_it(ckpts):

    @MODELS.register_module(force=True)
    class _StudentFeatNorm(torch.nn.Module):

        def forward(self, student_feats):
            return sum(f.pow(2).mean() for f in student_feats)

    distiller = build('retinanet', 'retinanet', ckpts, width=2,
                      losses=dict(loss_norm=dict(type='_StudentFeatNorm')))
    calls = []
    distiller.teacher.backbone.register_forward_hook(
        lambda *args: calls.append(1))
    data = distiller.data_preprocessor(raw_batch(), True)
    losses = distiller.loss(data['inputs'], data['data_samples'])
    assert losses['loss_norm'] > 0 and calls == []


def test_larger_teacher_pad_divisor_is_cropped(ckpts):
    """A teacher that pads to 128: its maps are larger by the padding; the
    pairs are cropped to the student's area."""
    teacher = tiny_detector('retinanet', width=2)
    teacher['data_preprocessor']['pad_size_divisor'] = 128
    distiller = NeckDistiller(
        student=tiny_detector('retinanet', width=2), teacher=teacher,
        teacher_ckpt=ckpts['retinanet'], distill_losses=copy.deepcopy(PKD))
    data = distiller.data_preprocessor(raw_batch(), True)
    assert tuple(data['inputs'].shape[-2:]) == (96, 128)
    _, values = distiller.forward_distill(data['inputs'],
                                          data['data_samples'])
    for s, t in zip(values['student_feats'], values['teacher_feats']):
        assert s.shape == t.shape
    assert tuple(values['teacher_feats'][0].shape[-2:]) == (12, 16)


def test_build_errors(ckpts):
    with pytest.raises(ValueError, match=r"have \[16, 16, 16\] channels but "
                       r"the teacher's have \[32, 32, 32\]: add connectors="
                       r"dict\(student_feats=dict\(type='ConvBNConnector', "
                       r'in_channels=\[16, 16, 16\], out_channels=\[32, 32, '
                       r'32\]\)\)'):
        build('rtmdet', 'faster_rcnn', ckpts)
    with pytest.raises(ValueError, match=r'has in_channels=\[16, 16\] but '
                       r'the paired levels \(strides \[8, 16, 32\]\) need '
                       r'\[16, 16, 16\]'):
        build('rtmdet', 'faster_rcnn', ckpts, connectors=dict(
            student_feats=dict(type='ConvBNConnector', in_channels=[16, 16],
                               out_channels=32)))
    with pytest.raises(ValueError, match=r'student has no level of stride '
                       r'\[4\]'):
        build('rtmdet', 'rtmdet', ckpts, strides=[8, 4],
              connectors=connector(1, 2, 1))
    with pytest.raises(ValueError, match='different strides'):
        build('rtmdet', 'faster_rcnn', ckpts, level_pairs=[(0, 0)],
              connectors=connector(1, 2, 1))
    with pytest.raises(ValueError, match=r"KDLoss\) reads \['student_"
                       r"logits', 'teacher_logits'\], which NeckDistiller "
                       'does not provide'):
        build('retinanet', 'retinanet', ckpts, width=2,
              losses=dict(loss_kd=dict(type='KDLoss')))
    with pytest.raises(ValueError, match="'student_logits' is not a "
                       'connectable input'):
        build('retinanet', 'retinanet', ckpts, width=2, connectors=dict(
            student_logits=dict(type='EmbeddingProjector', in_channels=2,
                                out_channels=2)))
    with pytest.raises(ValueError, match='teacher_ckpt is required'):
        NeckDistiller(student=tiny_detector('retinanet'),
                      teacher=tiny_detector('retinanet'))


def test_student_only_build_and_registry(ckpts):
    only = MODELS.build(dict(
        type='NeckDistiller', _scope_='nd_mmdet',
        student=tiny_detector('yolox'), teacher=tiny_detector('yolox', 2),
        build_teacher=False, distill_losses=PKD))
    assert not only.has_teacher and only.level_pairs is None
    only.eval()
    data = only.data_preprocessor(raw_batch(), False)
    results = only(**data, mode='predict')
    assert len(results) == 2 and 'bboxes' in results[0].pred_instances


def test_deepcopy_shares_the_teacher(ckpts):
    distiller = build('retinanet', 'retinanet', ckpts, width=2)
    twin = copy.deepcopy(distiller)
    assert twin.teacher is distiller.teacher
    assert twin.student is not distiller.student
    assert isinstance(twin.teacher_input, type(distiller.teacher_input))


"""ClassificationDistiller: teacher handling, input routing, build errors."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import LabelData  # noqa: F401
from mmpretrain.structures import DataSample

from nd_mmdet.models.distillers import ClassificationDistiller

torch.set_num_threads(1)


def classifier(arch='resnet20', width=64, num_classes=10):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='nd_mmdet.CifarResNet', arch=arch),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=width,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    name = 'test_cls_distiller_scope'
    if not DefaultScope.check_instance_created(name):
        DefaultScope.get_instance(name, scope_name='mmpretrain')
    yield


def save_teacher(path, cfg, seed=0):
    from nd_mmdet.utils import build_model_from_spec
    torch.manual_seed(seed)
    teacher = build_model_from_spec(cfg, 'teacher')
    # Non-trivial BN statistics, so that a train-mode forward would change
    # them visibly.
    for m in teacher.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


def build(tmp_path, losses, teacher_arch='resnet20', teacher_width=64,
          student_arch='resnet20', student_width=64, **kwargs):
    teacher_cfg = classifier(teacher_arch, teacher_width)
    ckpt = save_teacher(str(tmp_path / 'teacher.pth'), teacher_cfg)
    return ClassificationDistiller(
        student=classifier(student_arch, student_width),
        teacher=teacher_cfg,
        teacher_ckpt=ckpt,
        distill_losses=losses,
        **kwargs)


def batch(n=4, num_classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, 32, 32, generator=g)
    samples = [
        DataSample().set_gt_label(int(i % num_classes)) for i in range(n)
    ]
    return inputs, samples


KD_ND = dict(
    loss_kd=dict(type='KDLoss', temperature=4.0),
    loss_nd=dict(type='NDLoss', loss_weight=2.0))


def test_teacher_is_hidden_frozen_and_eval(tmp_path):
    model = build(tmp_path, KD_ND)
    teacher_params = {id(p) for p in model.teacher.parameters()}
    assert not teacher_params & {id(p) for p in model.parameters()}
    assert all(not k.startswith('teacher') for k in model.state_dict())
    assert all(k.startswith(('student.', 'connectors.', 'data_preprocessor'))
               for k in model.state_dict())
    assert all(not p.requires_grad for p in model.teacher.parameters())
    model.train()
    assert model.student.training and not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())
    model.to(torch.float64)
    assert next(model.teacher.parameters()).dtype == torch.float64


def test_teacher_bit_identical_after_training_steps(tmp_path):
    model = build(tmp_path, KD_ND)
    model.set_class_centers(torch.rand(10, 64) + 0.1)
    before = copy.deepcopy(model.teacher.state_dict())
    student_before = copy.deepcopy(model.student.state_dict())
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    in_optimizer = {id(p) for g in optim.param_groups for p in g['params']}
    assert not in_optimizer & {id(p) for p in model.teacher.parameters()}
    modes = []
    for module in model.teacher.modules():
        module.register_forward_pre_hook(
            lambda m, args: modes.append(m.training))
    model.train()
    for step in range(3):
        inputs, samples = batch(seed=step)
        losses = model.loss(inputs, samples)
        assert set(losses) == {'loss_cls', 'loss_kd', 'loss_nd'}
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
    after = model.teacher.state_dict()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert all(p.grad is None for p in model.teacher.parameters())
    assert modes and not any(modes), 'every teacher forward in eval mode'
    changed = [k for k, v in model.student.state_dict().items()
               if not torch.equal(v, student_before[k])]
    assert changed


def test_teacher_runs_only_what_losses_read(tmp_path):
    """ND reads the embedding only: the teacher head must not run."""
    calls = []
    model = build(tmp_path, dict(loss_nd=dict(type='NDLoss')))
    model.set_class_centers(torch.rand(10, 64) + 0.1)
    model.teacher.head.register_forward_hook(lambda *a: calls.append(1))
    model.loss(*batch())
    assert calls == []
    model = build(tmp_path, dict(loss_kd=dict(type='KDLoss')))
    model.teacher.head.register_forward_hook(lambda *a: calls.append(1))
    model.loss(*batch())
    assert calls == [1]


def test_losses_read_the_recorded_values(tmp_path):
    """loss_nd equals NDLoss on the embeddings computed by hand."""
    from nd_mmdet.models.losses import KDLoss, NDLoss
    model = build(tmp_path, KD_ND)
    centers = torch.rand(10, 64) + 0.1
    model.set_class_centers(centers)
    model.eval()  # deterministic student (BN running stats)
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    with torch.no_grad():
        s_embed = model.student.extract_feat(inputs)[-1]
        t_embed = model.teacher.extract_feat(inputs)[-1]
        s_logits = model.student(inputs, mode='tensor')
        t_logits = model.teacher(inputs, mode='tensor')
    labels = torch.tensor([s.gt_label.item() for s in samples])
    expected_nd = NDLoss(loss_weight=2.0)(s_embed, t_embed, labels, centers)
    expected_kd = KDLoss(temperature=4.0)(s_logits, t_logits)
    torch.testing.assert_close(losses['loss_nd'], expected_nd)
    torch.testing.assert_close(losses['loss_kd'], expected_kd)


def test_loss_scale_applies(tmp_path):
    model = build(tmp_path, dict(loss_kd=dict(type='KDLoss')))
    model.eval()
    inputs, samples = batch()
    full = model.loss(inputs, samples)['loss_kd']
    model.loss_scales['loss_kd'] = 0.25
    torch.testing.assert_close(
        model.loss(inputs, samples)['loss_kd'], full * 0.25)


def test_projector_connector_used_for_embed(tmp_path):
    model = build(
        tmp_path,
        dict(loss_nd=dict(type='NDLoss')),
        teacher_arch='resnet8x4',
        teacher_width=256,
        connectors=dict(
            student_embed=dict(
                type='EmbeddingProjector', in_channels=64, out_channels=256)))
    model.set_class_centers(torch.rand(10, 256) + 0.1)
    losses = model.loss(*batch())
    losses['loss_nd'].backward()
    assert model.connectors['student_embed'].fc.weight.grad is not None


def test_review_kd_feats(tmp_path):
    model = build(
        tmp_path,
        dict(loss_hcl=dict(type='HCLLoss')),
        connectors=dict(
            student_feats=dict(
                type='ReviewKDConnector',
                in_channels=[16, 32, 64, 64],
                out_channels=[16, 32, 64, 64],
                mid_channels=64)),
        student_paths=dict(feats=[
            'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'neck'
        ]),
        teacher_paths=dict(feats=[
            'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'neck'
        ]))
    calls = []
    model.teacher.head.register_forward_hook(lambda *a: calls.append(1))
    losses = model.loss(*batch())
    assert losses['loss_hcl'] > 0 and calls == []


# ----------------------------------------------------------- build errors
def test_missing_teacher_ckpt_is_an_error(tmp_path):
    with pytest.raises(ValueError, match='teacher_ckpt is required'):
        ClassificationDistiller(
            student=classifier(), teacher=classifier(),
            distill_losses=KD_ND)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        ClassificationDistiller(
            student=classifier(), teacher=classifier(),
            teacher_ckpt=str(tmp_path / 'nope.pth'), distill_losses=KD_ND)


def test_teacher_ckpt_key_mismatch_lists_keys(tmp_path):
    ckpt = save_teacher(str(tmp_path / 't.pth'), classifier('resnet8x4', 256))
    with pytest.raises(ValueError, match=r'missing keys .*unexpected keys'):
        ClassificationDistiller(
            student=classifier(), teacher=classifier(),
            teacher_ckpt=ckpt, distill_losses=KD_ND)


def test_class_count_mismatch(tmp_path):
    ckpt = save_teacher(str(tmp_path / 't.pth'), classifier(num_classes=7))
    with pytest.raises(ValueError, match='teacher has 7 classes but student '
                       'has 10'):
        ClassificationDistiller(
            student=classifier(), teacher=classifier(num_classes=7),
            teacher_ckpt=ckpt, distill_losses=KD_ND)


def test_embed_width_mismatch_without_projector(tmp_path):
    with pytest.raises(ValueError, match=r'64-d but teacher embedding is '
                       r'256-d \(head\.in_channels\) and no projector'):
        build(tmp_path, KD_ND, teacher_arch='resnet8x4', teacher_width=256)


def test_unknown_loss_input_and_bad_name(tmp_path):
    from torch import nn

    from nd_mmdet.registry import MODELS

    @MODELS.register_module(force=True)
    class TypoLoss(nn.Module):

        def forward(self, student_logit, teacher_logits):
            return student_logit.sum()

    with pytest.raises(ValueError, match=r"reads \['student_logit'\].*"
                       "close.*student_logits"):
        build(tmp_path, dict(loss_x=dict(type='TypoLoss')))
    with pytest.raises(ValueError, match='must start with "loss"'):
        build(tmp_path, dict(kd=dict(type='KDLoss')))


def test_unknown_module_path_lists_close_names(tmp_path):
    with pytest.raises(ValueError, match=r"student has no module at path "
                       r"'nekc'.*'neck'"):
        build(tmp_path, KD_ND, student_paths=dict(embed='nekc'))


def test_unknown_loss_type_lists_close_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown type 'NDLos'.*close names:"
                       r" \['NDLoss'"):
        build(tmp_path, dict(loss_nd=dict(type='NDLos')))


def test_missing_class_centers_is_clear(tmp_path):
    model = build(tmp_path, KD_ND)
    with pytest.raises(ValueError, match=r'nd_mmdet\.ClassCentersHook'):
        model.loss(*batch())
    with pytest.raises(ValueError, match=r'class_centers has shape \(10, 32\)'
                       r', expected \(10, 64\)'):
        model.set_class_centers(torch.rand(10, 32))


def test_nonfinite_loss_names_loss(tmp_path):
    model = build(tmp_path, KD_ND)
    model.set_class_centers(torch.rand(10, 64) + 0.1)
    model.loss_scales['loss_kd'] = float('nan')
    with pytest.raises(FloatingPointError, match='loss_kd is nan at '
                       'iteration'):
        model.loss(*batch())


def test_student_only_build_for_evaluation(tmp_path):
    model = ClassificationDistiller(
        student=classifier(), teacher=classifier(), distill_losses=KD_ND,
        build_teacher=False)
    assert not model.has_teacher
    inputs, samples = batch()
    out = model(inputs, samples, mode='predict')
    assert len(out) == 4 and out[0].pred_score.shape == (10, )
    with pytest.raises(RuntimeError, match='build_teacher=False'):
        model.loss(inputs, samples)


def test_teacher_normalising_differently_is_an_error(tmp_path):
    """The teacher runs on the student's preprocessed images."""
    teacher = dict(classifier(), data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[0., 0., 0.], std=[1., 1., 1.]))
    ckpt = save_teacher(str(tmp_path / 't.pth'), teacher)
    student = dict(classifier(), data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[125., 123., 114.],
        std=[63., 62., 66.]))
    with pytest.raises(ValueError, match=r'teacher data_preprocessor\.mean '
                       r"\[0\.0, 0\.0, 0\.0\] differs from the student's"):
        ClassificationDistiller(student=student, teacher=teacher,
                                teacher_ckpt=ckpt, distill_losses=KD_ND)

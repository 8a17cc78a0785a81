"""DenseDistiller on tiny RetinaNet / FCOS / GFL R18-FPN detectors (random
weights, 128 px images, 2 stacked 64-d head convs): hand-built positives at
known (image, level, row, column, anchor), gathered values checked against
the heads' maps computed by hand, teacher frozen and run on its
classification branch only, class centres, background entries, HCL and the
build-time errors."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData

from nd_mmdet.engine.class_centers import compute_class_centers
from nd_mmdet.models.distillers import DenseDistiller
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIGS = dict(
    retina='configs/coco/dense/retinanet/retinanet_r18_fpn_1x_coco.py',
    fcos='configs/coco/dense/fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    gfl='configs/coco/dense/gfl/gfl_r50_fpn_1x_coco.py')
CLS_CONV = dict(retina='retina_cls', fcos='conv_cls', gfl='gfl_cls')
K = 3
KD_PP = dict(
    loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0),
    loss_nd=dict(type='NDLoss', loss_weight=1.0))


def detector_cfg(kind, feat_channels=64, **head):
    """The repository's dense student config, shrunk: ResNet-18 without
    pretrained weights, K classes, 2 stacked 64-d head convs."""
    model = Config.fromfile(osp.join(REPO, CONFIGS[kind])).model
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.in_channels = [64, 128, 256, 512]
    model.bbox_head.update(num_classes=K, stacked_convs=2,
                           feat_channels=feat_channels, **head)
    model['_scope_'] = 'mmdet'
    return model


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dense_teachers')
    paths = {}
    for kind in CONFIGS:
        torch.manual_seed(1)
        path = str(tmp / f'{kind}.pth')
        torch.save(dict(state_dict=MODELS.build(
            detector_cfg(kind)).state_dict()), path)
        paths[kind] = path
    return paths


def build(kind, ckpt, losses=KD_PP, student=None, teacher=None,
          centers=True, **kwargs):
    torch.manual_seed(0)
    distiller = DenseDistiller(
        student=student or detector_cfg(kind),
        teacher=teacher or detector_cfg(kind),
        teacher_ckpt=ckpt,
        distill_losses=copy.deepcopy(losses),
        **kwargs)
    if centers and distiller.has_teacher and distiller.needs_class_centers:
        distiller.set_class_centers(
            torch.rand(*distiller.expected_centers_shape()) + 0.1)
    return distiller


def batch(distiller, boxes=None):
    """Two 128x128 images; ``boxes``: per image (bboxes, labels) replacing
    the random ground truth."""
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=K)
    if boxes is not None:
        for sample, (bbox, label) in zip(data['data_samples'], boxes):
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor(bbox, dtype=torch.float32),
                labels=torch.tensor(label))
    return distiller.data_preprocessor(data, True)


@torch.no_grad()
def cls_maps(model, inputs, kind, feats=None):
    """(cls feature maps, class-score maps) of ``model`` by hand."""
    head = model.bbox_head
    feats = model.extract_feat(inputs) if feats is None else feats
    embeds, scores = [], []
    for x in feats:
        for conv in head.cls_convs:
            x = conv(x)
        embeds.append(x)
        scores.append(getattr(head, CLS_CONV[kind])(x))
    return embeds, scores


def expected_rows(maps, scores, positions, num_priors):
    emb, log = [], []
    for n, lvl, h, w, a in positions.tolist():
        emb.append(maps[lvl][n, :, h, w])
        log.append(scores[lvl][n, a * K:(a + 1) * K, h, w])
    return torch.stack(emb), torch.stack(log)


def check_against_maps(distiller, inputs, values, kind):
    """Student rows = its own cls_convs / classifier at the positions (from
    its recorded FPN levels); teacher rows = the TEACHER's, from its own
    features, at the same positions."""
    A = distiller.student.bbox_head.num_base_priors
    s_maps, s_scores = cls_maps(distiller.student, None, kind,
                                [f.detach() for f in values['student_feats']])
    emb, log = expected_rows(s_maps, s_scores, values['positions'], A)
    torch.testing.assert_close(values['student_embed'].detach(), emb)
    torch.testing.assert_close(values['student_logits'].detach(), log)
    t_maps, t_scores = cls_maps(distiller.teacher, inputs['inputs'], kind)
    emb, log = expected_rows(t_maps, t_scores, values['positions'], A)
    torch.testing.assert_close(values['teacher_embed'], emb)
    torch.testing.assert_close(values['teacher_logits'], log)


def test_registered():
    assert MODELS.get('DenseDistiller') is DenseDistiller
    assert set(DenseDistiller.AVAILABLE_INPUTS) == {
        'student_logits', 'teacher_logits', 'student_embed', 'teacher_embed',
        'student_feats', 'teacher_feats', 'labels', 'class_centers'}


def test_retina_hand_built_positives(ckpts):
    """1 octave scale x 3 ratios (A = 3, square anchor = index 1), positive
    IoU 0.9: a gt box equal to one square anchor is that anchor's only
    positive. Image 0: level 0 (stride 8, 32 px anchors), location (5, 6)
    = box centred at (48, 40); image 1: level 1 (stride 16, 64 px),
    location (3, 2) = centred at (32, 48)."""
    anchors = dict(type='AnchorGenerator', octave_base_scale=4,
                   scales_per_octave=1, ratios=[0.5, 1.0, 2.0],
                   strides=[8, 16, 32, 64, 128])
    cfg = detector_cfg('retina', anchor_generator=anchors)
    cfg.train_cfg.assigner.pos_iou_thr = 0.9
    ckpt = str(osp.join(osp.dirname(ckpts['retina']), 'retina_a3.pth'))
    torch.manual_seed(1)
    torch.save(dict(state_dict=MODELS.build(copy.deepcopy(cfg)).state_dict()),
               ckpt)
    distiller = build('retina', ckpt, student=copy.deepcopy(cfg),
                      teacher=copy.deepcopy(cfg))
    assert distiller.student.bbox_head.num_base_priors == 3
    inputs = batch(distiller, [([[32, 24, 64, 56]], [2]),
                               ([[0, 16, 64, 80]], [0])])
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert values['positions'].tolist() == [[0, 0, 5, 6, 1],
                                            [1, 1, 3, 2, 1]]
    assert values['labels'].tolist() == [2, 0]
    s_maps, s_scores = cls_maps(distiller.student, inputs['inputs'],
                                'retina')
    t_maps, t_scores = cls_maps(distiller.teacher, inputs['inputs'],
                                'retina')
    for side, maps, scores in (('student', s_maps, s_scores),
                               ('teacher', t_maps, t_scores)):
        emb, log = values[f'{side}_embed'], values[f'{side}_logits']
        assert torch.equal(emb[0], maps[0][0, :, 5, 6])
        assert torch.equal(emb[1], maps[1][1, :, 3, 2])
        assert torch.equal(log[0], scores[0][0, K:2 * K, 5, 6])
        assert torch.equal(log[1], scores[1][1, K:2 * K, 3, 2])
    assert not torch.equal(values['student_embed'], values['teacher_embed'])
    assert values['student_embed'].requires_grad
    assert not values['teacher_embed'].requires_grad


def test_fcos_hand_built_positives(ckpts):
    """A 6 px box around one stride-8 point ((w + 0.5) * 8, (h + 0.5) * 8)
    holds no other point of any level: the only positive."""
    distiller = build('fcos', ckpts['fcos'])
    inputs = batch(distiller, [([[49, 41, 55, 47]], [1]),
                               ([[25, 81, 31, 87]], [2])])
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert values['positions'].tolist() == [[0, 0, 5, 6, 0],
                                            [1, 0, 10, 3, 0]]
    assert values['labels'].tolist() == [1, 2]
    s_maps, s_scores = cls_maps(distiller.student, inputs['inputs'], 'fcos')
    t_maps, t_scores = cls_maps(distiller.teacher, inputs['inputs'], 'fcos')
    for side, maps, scores in (('student', s_maps, s_scores),
                               ('teacher', t_maps, t_scores)):
        assert torch.equal(values[f'{side}_embed'][0], maps[0][0, :, 5, 6])
        assert torch.equal(values[f'{side}_embed'][1], maps[0][1, :, 10, 3])
        assert torch.equal(values[f'{side}_logits'][1],
                           scores[0][1, :, 10, 3])


def test_gfl_hand_built_positives(ckpts):
    """ATSS with ``topk=1``: each level's one candidate is the anchor
    nearest the box centre; the threshold is mean + std of their IoUs. A gt
    box equal to one anchor (IoU 1; the other levels' candidates <= 0.25)
    makes that anchor its only positive. GFL anchors are 8 x stride
    squares. Image 0: level 0 (64 px), location (5, 6) = centre (48, 40);
    image 1: level 1 (128 px), location (4, 4) = centre (64, 64)."""
    cfg = detector_cfg('gfl')
    cfg.train_cfg.assigner.topk = 1
    distiller = build('gfl', ckpts['gfl'], student=copy.deepcopy(cfg),
                      teacher=copy.deepcopy(cfg))
    inputs = batch(distiller, [([[16, 8, 80, 72]], [2]),
                               ([[0, 0, 128, 128]], [1])])
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert values['positions'].tolist() == [[0, 0, 5, 6, 0],
                                            [1, 1, 4, 4, 0]]
    assert values['labels'].tolist() == [2, 1]
    s_maps, s_scores = cls_maps(distiller.student, inputs['inputs'], 'gfl')
    t_maps, t_scores = cls_maps(distiller.teacher, inputs['inputs'], 'gfl')
    for side, maps, scores in (('student', s_maps, s_scores),
                               ('teacher', t_maps, t_scores)):
        emb, log = values[f'{side}_embed'], values[f'{side}_logits']
        assert torch.equal(emb[0], maps[0][0, :, 5, 6])
        assert torch.equal(emb[1], maps[1][1, :, 4, 4])
        assert torch.equal(log[0], scores[0][0, :, 5, 6])
        assert torch.equal(log[1], scores[1][1, :, 4, 4])
    assert not torch.equal(values['student_embed'], values['teacher_embed'])


@pytest.mark.parametrize('kind', ['retina', 'fcos', 'gfl'])
def test_random_boxes_all_levels(ckpts, kind):
    """Random gt boxes: every entry's rows equal the hand-computed maps at
    its position, for student and teacher, and the losses are finite.
    FCOS: the positives are exactly those of the head's own get_targets."""
    distiller = build(kind, ckpts[kind]).train()
    inputs = batch(distiller)
    losses, values = distiller.forward_distill(inputs['inputs'],
                                               inputs['data_samples'])
    num = values['labels'].numel()
    assert num > 0 and values['positions'].shape == (num, 5)
    assert int(values['labels'].max()) < K
    check_against_maps(distiller, inputs, values, kind)
    if kind == 'fcos':
        head = distiller.student.bbox_head
        sizes = [f.shape[-2:] for f in values['student_feats']]
        points = head.prior_generator.grid_priors(sizes, device='cpu')
        labels, _ = head.get_targets(
            points, [s.gt_instances for s in inputs['data_samples']])
        expected = []
        for lvl, (lab, (h, w)) in enumerate(zip(labels, sizes)):
            for idx in (lab < K).nonzero().squeeze(1).tolist():
                n, rem = divmod(idx, h * w)
                expected.append([n, lvl, rem // w, rem % w, 0])
        assert values['positions'].tolist() == expected
    out = distiller.compute_distill_losses(values)
    assert set(out) == {'loss_kd', 'loss_nd'}
    assert all(torch.isfinite(v) for v in out.values())
    assert 'loss_cls' in losses


def test_teacher_frozen_and_head_cls_branch_only(ckpts):
    distiller = build('retina', ckpts['retina']).train()
    teacher = distiller.teacher
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    head = teacher.bbox_head

    def forbidden(*args, **kwargs):
        raise AssertionError('teacher loss / assigner / regression called')

    head.loss = head.loss_by_feat = head.get_targets = forbidden
    head.assigner.assign = forbidden
    handles = [m.register_forward_hook(forbidden)
               for m in (head.retina_reg, head.reg_convs[0])]
    optim = OptimWrapper(torch.optim.SGD(distiller.parameters(), lr=0.1))
    for seed in range(2):
        torch.manual_seed(seed)
        losses = distiller.loss(**batch(distiller))
        optim.update_params(distiller.parse_losses(losses)[0])
    for h in handles:
        h.remove()
    assert not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not any(k.startswith('teacher')
                   for k in distiller.state_dict())


def test_background_entries_and_centres(ckpts):
    distiller = build('retina', ckpts['retina'], background_centre=True,
                      max_negatives_per_image=7)
    assert distiller.expected_centers_shape() == (K + 1, 64)
    inputs = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    bg = values['labels'] == K
    assert int(bg.sum()) == 2 * 7
    for n in (0, 1):
        assert int((values['positions'][bg, 0] == n).sum()) == 7
    assert (values['labels'] < K).any()
    levels = values['positions'][:, 1]
    assert torch.equal(levels, levels.sort().values), 'level-major order'
    check_against_maps(distiller, inputs, values, 'retina')
    # class-centre pre-pass: teacher embeddings at the student's entries,
    # student left unchanged (eval mode inside, BN statistics untouched)
    distiller.train()
    state = {k: v.clone() for k, v in distiller.student.state_dict().items()}
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=K)
    embeds, labels = distiller.teacher_embeddings_for_centers(data)
    assert embeds.shape == (labels.numel(), 64) and (labels == K).any()
    assert not embeds.requires_grad and distiller.student.training
    for k, v in distiller.student.state_dict().items():
        assert torch.equal(v, state[k]), k
    centers, counts = compute_class_centers(distiller, [data, data])
    assert centers.shape == (K + 1, 64) and int(counts[K]) == 2 * 2 * 7


def test_positives_only_default_and_centres(ckpts):
    distiller = build('gfl', ckpts['gfl'], centers=False)
    assert distiller.expected_centers_shape() == (K, 64)
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=K)
    centers, counts = compute_class_centers(distiller, [data])
    assert centers.shape == (K, 64) and int(counts.sum()) > 0
    with pytest.raises(ValueError, match=r'nd_mmdet\.ClassCentersHook'):
        inputs = batch(distiller)
        distiller.loss(inputs['inputs'], inputs['data_samples'])


def test_hcl_on_fpn_levels(ckpts):
    """ReviewKD++ on a dense detector: HCL on the ABF-fused FPN levels."""
    distiller = build(
        'retina', ckpts['retina'],
        losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.0),
                    loss_nd=dict(type='NDLoss')),
        connectors=dict(student_feats=dict(
            type='ReviewKDConnector', in_channels=[256] * 5,
            out_channels=[256] * 5, mid_channels=64)))
    inputs = batch(distiller)
    losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
    assert torch.isfinite(losses['loss_hcl']) and 'loss_nd' in losses


def test_projector_when_widths_differ(ckpts, tmp_path):
    teacher = detector_cfg('fcos', feat_channels=96)
    torch.manual_seed(1)
    ckpt = str(tmp_path / 't96.pth')
    torch.save(dict(state_dict=MODELS.build(copy.deepcopy(teacher))
                    .state_dict()), ckpt)
    with pytest.raises(ValueError, match='EmbeddingProjector'):
        build('fcos', ckpt, teacher=copy.deepcopy(teacher))
    with pytest.raises(ValueError, match='maps 64->64'):
        build('fcos', ckpt, teacher=copy.deepcopy(teacher),
              connectors=dict(student_embed=dict(
                  type='EmbeddingProjector', in_channels=64,
                  out_channels=64)))
    distiller = build('fcos', ckpt, teacher=copy.deepcopy(teacher),
                      connectors=dict(student_embed=dict(
                          type='EmbeddingProjector', in_channels=64,
                          out_channels=96)))
    assert distiller.expected_centers_shape() == (K, 96)
    inputs = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert values['student_embed'].shape[1] == 96 == \
        values['teacher_embed'].shape[1]
    # one positive in the batch (the FCOS hand-built box; a box holding no
    # point in image 1), then none: the projector's BatchNorm has no batch
    # statistics, the losses are still finite and the step runs
    distiller.train()
    for boxes, num_entries in (
            ([([[49, 41, 55, 47]], [1]), ([[1, 1, 2, 2]], [2])], 1),
            ([([[1, 1, 2, 2]], [1]), ([[1, 1, 2, 2]], [2])], 0)):
        inputs = batch(distiller, boxes)
        _, values = distiller.forward_distill(inputs['inputs'],
                                              inputs['data_samples'])
        losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
        assert values['labels'].numel() == num_entries
        assert torch.isfinite(losses['loss_nd']) and torch.isfinite(
            losses['loss_kd'])
        sum(v for k, v in losses.items() if k.startswith('loss_')
            and torch.is_tensor(v)).backward()


def test_per_level_projector(ckpts, tmp_path):
    """PerLevelProjector on student_embed: each entry's row equals its
    level's projector applied to the raw student feature at its position."""
    teacher = detector_cfg('retina', feat_channels=96)
    torch.manual_seed(1)
    ckpt = str(tmp_path / 'r96.pth')
    torch.save(dict(state_dict=MODELS.build(copy.deepcopy(teacher))
                    .state_dict()), ckpt)
    per_level = dict(type='PerLevelProjector', in_channels=64,
                     out_channels=96, num_levels=5)
    with pytest.raises(ValueError, match='num_levels=4 but the student head '
                       'has 5 FPN levels'):
        build('retina', ckpt, teacher=copy.deepcopy(teacher),
              connectors=dict(student_embed=dict(per_level, num_levels=4)))
    distiller = build('retina', ckpt, teacher=copy.deepcopy(teacher),
                      connectors=dict(student_embed=per_level)).eval()
    inputs = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    levels = values['positions'][:, 1]
    assert len(set(levels.tolist())) > 1, 'the batch spans several levels'
    s_maps, _ = cls_maps(distiller.student, None, 'retina',
                         [f.detach() for f in values['student_feats']])
    projectors = distiller.connectors['student_embed'].projectors
    for row, (n, lvl, h, w, _) in zip(values['student_embed'],
                                      values['positions'].tolist()):
        raw = s_maps[lvl][n, :, h, w][None]
        torch.testing.assert_close(row.detach(), projectors[lvl](raw)[0])
    # only DenseDistiller hands connectors the FPN levels
    from nd_mmdet.models.distillers import ClassificationDistiller
    with pytest.raises(ValueError, match='needs the FPN level.*'
                       'ClassificationDistiller'):
        ClassificationDistiller(
            student=dict(type='mmpretrain.ImageClassifier',
                         backbone=dict(type='nd_mmdet.CifarResNet',
                                       arch='resnet8'),
                         neck=dict(type='GlobalAveragePooling'),
                         head=dict(type='LinearClsHead', num_classes=10,
                                   in_channels=64)),
            teacher=None, build_teacher=False,
            connectors=dict(student_embed=dict(per_level, in_channels=64)))


def test_build_errors(ckpts):
    # a RetinaHead subclass computes its loss otherwise: exact types only
    free_anchor = detector_cfg('retina')
    free_anchor.bbox_head.type = 'FreeAnchorRetinaHead'
    with pytest.raises(ValueError, match=r"exactly one of \['RetinaHead', "
                       "'ATSSHead', 'GFLHead', 'FCOSHead', 'RTMDetHead', "
                       r"'RTMDetSepBNHead'\], got RetinaNet with bbox_head "
                       "FreeAnchorRetinaHead; .*type='NeckDistiller'"):
        build('retina', ckpts['retina'], student=free_anchor)
    with pytest.raises(ValueError, match='same head'):
        build('retina', ckpts['fcos'], teacher=detector_cfg('fcos'))
    with pytest.raises(ValueError, match='classes'):
        build('fcos', ckpts['fcos'], student=dict(
            detector_cfg('fcos'), bbox_head=dict(
                detector_cfg('fcos').bbox_head, num_classes=K + 1)))
    softmax = detector_cfg('retina')
    softmax.bbox_head.loss_cls = dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    with pytest.raises(ValueError, match='soft-max'):
        build('retina', ckpts['retina'], student=softmax)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match='max_negatives_per_image'):
            build('retina', ckpts['retina'], max_negatives_per_image=bad)
    with pytest.raises(ValueError, match='close names'):
        build('retina', ckpts['retina'],
              losses=dict(loss_x=dict(type='BinaryKDLos')))
    with pytest.raises(ValueError, match='teacher_ckpt'):
        build('retina', None)
    student_only = build('retina', None, build_teacher=False)
    assert not student_only.has_teacher


# ------------------------------------------------------ repository configs
#: pair -> (detector, config suffix, student config)
DENSE_PAIRS = {
    ('retinanet', 'r101-r18'): ('_fpn_1x_coco',
                                'retinanet/retinanet_r18_fpn_1x_coco.py'),
    ('retinanet', 'r101-r50'): ('_fpn_1x_coco',
                                'retinanet/retinanet_r50_fpn_1x_coco.py'),
    ('fcos', 'r101-r50'): ('_fpn_gn-head_1x_coco',
                           'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'),
    ('gfl', 'r101-r50'): ('_fpn_1x_coco', 'gfl/gfl_r50_fpn_1x_coco.py'),
}


def dense_config(method, det, pair):
    suffix, _ = DENSE_PAIRS[(det, pair)]
    return Config.fromfile(osp.join(
        REPO, f'configs/coco/dense/{method}/{method}_{det}_{pair}{suffix}.py'))


@pytest.mark.parametrize('det,pair', sorted(DENSE_PAIRS))
def test_dense_coco_configs_losses_and_weights(det, pair):
    """Our weights (no published ones): binary KD 1.0 at the positives and
    sampled negatives (kd_at_negatives), ND 1.0, HCL 1.2."""
    kd = dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)
    nd = dict(type='NDLoss', loss_weight=1.0)
    hcl = dict(type='HCLLoss', loss_weight=1.2)
    want = {'kd': dict(loss_kd=kd), 'kd++': dict(loss_kd=kd, loss_nd=nd),
            'reviewkd': dict(loss_hcl=hcl),
            'reviewkd++': dict(loss_hcl=hcl, loss_nd=nd)}
    _, student = DENSE_PAIRS[(det, pair)]
    for method, losses in want.items():
        cfg = dense_config(method, det, pair)
        assert cfg.default_scope == 'mmdet'
        assert cfg.model._scope_ == 'nd_mmdet'
        assert cfg.model.type == 'DenseDistiller'
        assert cfg.model.distill_losses.to_dict() == losses, method
        assert cfg.model.get('kd_at_negatives', False) == \
            method.startswith('kd')
        assert cfg.model.student.endswith(student)
        assert cfg.model.teacher.startswith(f'mmdet::{det}/{det}_r101')
        connectors = cfg.model.get('connectors') or {}
        assert ('student_feats' in connectors) == method.startswith('review')
        assert cfg.custom_hooks == [
            dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
            dict(type='nd_mmdet.ReseedPerEpochHook'),
            dict(type='nd_mmdet.TrainingHealthHook')]
        assert cfg.train_cfg.max_epochs == 12
        assert cfg.train_dataloader.dataset.data_root == 'data/coco/'


def test_dense_reviewkd_pp_config_builds_and_trains_a_step(tmp_path):
    """The real RetinaNet R101 -> R18 ReviewKD++ config: five 256-d FPN
    levels through ABF, 80 x 256 centres, one loss on a 128 px batch."""
    cfg = dense_config('reviewkd++', 'retinanet', 'r101-r18')
    from nd_mmdet.utils import build_model_from_spec
    teacher = build_model_from_spec(cfg.model.teacher)
    ckpt = str(tmp_path / 'r101.pth')
    torch.save(teacher.state_dict(), ckpt)
    cfg.model.teacher_ckpt = ckpt
    distiller = MODELS.build(cfg.model).train()
    assert distiller.expected_centers_shape() == (80, 256)
    distiller.set_class_centers(torch.rand(80, 256) + 0.1)
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=80)
    inputs = distiller.data_preprocessor(data, True)
    losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
    assert torch.isfinite(losses['loss_hcl']) and torch.isfinite(
        losses['loss_nd'])


def test_kd_at_negatives(ckpts):
    """Logits at the positives plus at most N sampled negatives per image;
    embeddings, labels and class centres at the positives only."""
    distiller = build('retina', ckpts['retina'], kd_at_negatives=True,
                      max_negatives_per_image=7).train()
    assert distiller.expected_centers_shape() == (K, 64)
    inputs = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    num_pos = values['labels'].numel()
    assert num_pos > 0 and int(values['labels'].max()) < K
    assert values['student_embed'].shape[0] == num_pos == \
        values['teacher_embed'].shape[0] == values['positions'].shape[0]
    logit_pos = values['logit_positions']
    assert values['student_logits'].shape[0] == num_pos + 2 * 7 == \
        values['teacher_logits'].shape[0] == logit_pos.shape[0]
    positives = set(map(tuple, values['positions'].tolist()))
    negatives = [p for p in map(tuple, logit_pos.tolist())
                 if p not in positives]
    assert positives <= set(map(tuple, logit_pos.tolist()))
    assert sorted(p[0] for p in negatives) == [0] * 7 + [1] * 7
    A = distiller.student.bbox_head.num_base_priors
    for side, model, feats in (
            ('student', distiller.student,
             [f.detach() for f in values['student_feats']]),
            ('teacher', distiller.teacher, None)):
        maps, scores = cls_maps(model, inputs['inputs'], 'retina', feats)
        emb, _ = expected_rows(maps, scores, values['positions'], A)
        _, log = expected_rows(maps, scores, logit_pos, A)
        torch.testing.assert_close(values[f'{side}_embed'].detach(), emb)
        torch.testing.assert_close(values[f'{side}_logits'].detach(), log)
    losses = distiller.compute_distill_losses(values)
    assert torch.isfinite(losses['loss_kd']) and torch.isfinite(
        losses['loss_nd'])
    # the class-centre pre-pass sees the positives only, and draws no
    # negatives it would drop (the global random stream is left alone)
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=K)
    rng = torch.get_rng_state()
    embeds, labels = distiller.teacher_embeddings_for_centers(data)
    assert torch.equal(torch.get_rng_state(), rng)
    assert embeds.shape == (labels.numel(), 64) and int(labels.max()) < K
    with pytest.raises(ValueError, match='choose one'):
        build('retina', ckpts['retina'], kd_at_negatives=True,
              background_centre=True)
    with pytest.raises(ValueError, match='loss_dkd reads'):
        build('retina', ckpts['retina'], kd_at_negatives=True,
              losses=dict(loss_dkd=dict(type='DKDLoss')))


def test_rtmdet_per_level_branch(tmp_path):
    """RTMDetSepBNHead: per-level cls_convs / rtm_cls (shared convs,
    separate BN). Every entry's rows equal the maps of its own level's
    branch by hand, for student and teacher; each positive prior lies inside
    a ground-truth box of its image and has one of that image's labels (the
    dynamic soft-label assigner only picks priors inside a box), which
    checks the decoding of the flattened order."""
    from tests.detector_zoo import tiny_detector
    cfg = tiny_detector('rtmdet', width=2)
    torch.manual_seed(1)
    ckpt = str(tmp_path / 'rtmdet.pth')
    torch.save(dict(state_dict=MODELS.build(cfg).state_dict()), ckpt)
    distiller = build('rtmdet', ckpt, student=tiny_detector('rtmdet', 2),
                      teacher=cfg).train()
    inputs = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert values['labels'].numel() > 0

    @torch.no_grad()
    def maps(model, feats):
        head, embeds, scores = model.bbox_head, [], []
        for level, x in enumerate(feats):
            for conv in head.cls_convs[level]:
                x = conv(x)
            embeds.append(x)
            scores.append(head.rtm_cls[level](x))
        return embeds, scores

    s_maps = maps(distiller.student,
                  [f.detach() for f in values['student_feats']])
    emb, log = expected_rows(*s_maps, values['positions'], 1)
    torch.testing.assert_close(values['student_embed'].detach(), emb)
    torch.testing.assert_close(values['student_logits'].detach(), log)
    t_maps = maps(distiller.teacher,
                  distiller.teacher.extract_feat(inputs['inputs']))
    emb, log = expected_rows(*t_maps, values['positions'], 1)
    torch.testing.assert_close(values['teacher_embed'], emb)
    torch.testing.assert_close(values['teacher_logits'], log)

    strides = distiller.student.bbox_head.prior_generator.strides
    for (n, lvl, h, w, _), label in zip(values['positions'].tolist(),
                                        values['labels'].tolist()):
        x, y = w * strides[lvl][0], h * strides[lvl][1]  # offset 0
        gt = inputs['data_samples'][n].gt_instances
        inside = [(b[0] <= x <= b[2] and b[1] <= y <= b[3])
                  for b in gt.bboxes.tolist()]
        # inside some box of its image (the assigner may match it to
        # another box of that image, by cost), labelled as one of them
        assert any(inside), (n, lvl, h, w, gt.bboxes.tolist())
        assert label in gt.labels.tolist()

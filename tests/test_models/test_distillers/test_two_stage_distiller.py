"""TwoStageDistiller on tiny Faster R-CNN R18-FPN detectors (random weights,
random 128 px images): captured RoI values checked by hand, teacher frozen
and run on the student's RoIs only, class centres, checkpoint contents and
the build-time errors."""
import copy
import gc
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_overlaps
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from nd_mmdet.engine.class_centers import compute_class_centers
from nd_mmdet.models.distillers import TwoStageDistiller
from nd_mmdet.registry import MODELS

torch.set_num_threads(1)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
R18_CONFIG = osp.join(
    REPO, 'configs/coco/faster_rcnn/faster-rcnn_r18_fpn_ms-1x_coco.py')
K = 3  # foreground classes
KD_PP = dict(
    loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=1.0),
    loss_nd=dict(type='NDLoss', loss_weight=1.5))
HCL = dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.2))
REVIEW = dict(
    student_feats=dict(
        type='ReviewKDConnector',
        in_channels=[256] * 5,
        out_channels=[256] * 5,
        mid_channels=256))


def detector_cfg(num_classes=K, **bbox_head):
    """The repository's R18 student config, shrunk: no pretrained weights,
    K classes, fewer proposals / sampled RoIs, every box kept at test."""
    model = Config.fromfile(R18_CONFIG).model
    model.backbone.init_cfg = None
    model.roi_head.bbox_head.num_classes = num_classes
    model.roi_head.bbox_head.update(bbox_head)
    model.train_cfg.rpn_proposal.max_per_img = 200
    model.train_cfg.rcnn.sampler.num = 64
    model.test_cfg.rpn.max_per_img = 200
    model.test_cfg.rcnn.score_thr = 0.0
    model['_scope_'] = 'mmdet'
    return model


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    torch.manual_seed(1)
    teacher = MODELS.build(detector_cfg())
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


def build(ckpt, losses=KD_PP, connectors=None, student=None, teacher=None,
          centers=True, **kwargs):
    torch.manual_seed(0)
    distiller = TwoStageDistiller(
        student=student or detector_cfg(),
        teacher=teacher or detector_cfg(),
        teacher_ckpt=ckpt,
        distill_losses=copy.deepcopy(losses),
        connectors=copy.deepcopy(connectors),
        **kwargs)
    if centers and distiller.has_teacher and distiller.needs_class_centers:
        distiller.set_class_centers(
            torch.rand(*distiller.expected_centers_shape()) + 0.1)
    return distiller


def batch(distiller, seed=0):
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=K)
    torch.manual_seed(seed)
    return distiller.data_preprocessor(data, True), data


@pytest.fixture(scope='module')
def kdpp_review(teacher_ckpt):
    """KD++ + ReviewKD (HCL on ABF-fused FPN levels), one forward."""
    distiller = build(teacher_ckpt, {**KD_PP, **HCL}, REVIEW).train()
    inputs, _ = batch(distiller)
    losses, values = distiller.forward_distill(inputs['inputs'],
                                               inputs['data_samples'])
    return distiller, inputs, losses, values


def test_registered_with_detection_inputs():
    assert MODELS.get('TwoStageDistiller') is TwoStageDistiller
    assert set(TwoStageDistiller.AVAILABLE_INPUTS) == {
        'student_logits', 'teacher_logits', 'student_embed', 'teacher_embed',
        'student_feats', 'teacher_feats', 'labels', 'class_centers'}


def test_roi_values_shapes_and_labels(kdpp_review):
    _, inputs, _, values = kdpp_review
    rois, labels = values['rois'], values['labels']
    num = rois.shape[0]
    assert rois.shape == (num, 5) and 0 < num <= 2 * 64
    assert values['student_embed'].shape == (num, 1024)
    assert values['teacher_embed'].shape == (num, 1024)
    assert values['student_logits'].shape == (num, K + 1)
    assert values['teacher_logits'].shape == (num, K + 1)
    assert labels.dtype == torch.long and labels.shape == (num, )
    assert int(labels.min()) >= 0 and int(labels.max()) <= K
    assert (labels == K).any(), 'background RoIs are labelled K'
    assert (labels < K).any(), 'the gt boxes are sampled as positives'
    # RoIs of both images, each image's first (positive) RoIs labelled fg
    assert set(rois[:, 0].long().tolist()) == {0, 1}
    assert [f.shape[1] for f in values['student_feats']] == [256] * 5
    assert [tuple(f.shape) for f in values['student_feats']] == \
        [tuple(f.shape) for f in values['teacher_feats']]
    assert values['student_embed'].requires_grad
    assert not values['teacher_embed'].requires_grad


def test_labels_follow_the_student_assigner(kdpp_review):
    """fg RoI: IoU >= 0.5 with a gt of its label (the assigner's best
    match); bg RoI: IoU < 0.5 with every gt (rcnn MaxIoUAssigner)."""
    _, inputs, _, values = kdpp_review
    rois, labels = values['rois'], values['labels']
    for img, sample in enumerate(inputs['data_samples']):
        gt = sample.gt_instances
        mine = rois[:, 0] == img
        iou = bbox_overlaps(rois[mine, 1:], gt.bboxes)
        best, arg = iou.max(dim=1)
        lab = labels[mine]
        fg = lab < K
        assert (best[fg] >= 0.5 - 1e-4).all()
        assert torch.equal(lab[fg], gt.labels[arg[fg]])
        assert (best[~fg] < 0.5).all()


def test_roi_values_match_hand_computation(kdpp_review):
    """Student values = its box head on the recorded RoIs; teacher values =
    the TEACHER's extractor + box head on the STUDENT's RoIs."""
    distiller, inputs, _, values = kdpp_review
    rois = values['rois']

    def by_hand(model):
        with torch.no_grad():
            feats = model.extract_feat(inputs['inputs'])
            head = model.roi_head.bbox_head
            x = model.roi_head.bbox_roi_extractor(feats[:4], rois).flatten(1)
            for fc in head.shared_fcs:
                x = F.relu(fc(x))
            return feats, x, head.fc_cls(x)

    t_feats, t_embed, t_logits = by_hand(distiller.teacher)
    torch.testing.assert_close(values['teacher_embed'], t_embed)
    torch.testing.assert_close(values['teacher_logits'], t_logits)
    for got, want in zip(values['teacher_feats'], t_feats):
        torch.testing.assert_close(got, want)
    _, s_embed, s_logits = by_hand(distiller.student)
    torch.testing.assert_close(values['student_embed'].detach(), s_embed)
    torch.testing.assert_close(values['student_logits'].detach(), s_logits)
    # student and teacher differ (different weights): not trivially equal
    assert not torch.allclose(s_embed, t_embed)


def test_losses_and_gradients(kdpp_review):
    distiller, inputs, _, _ = kdpp_review
    distiller.zero_grad()
    losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_kd',
                'loss_nd', 'loss_hcl'):
        assert key in losses
    for key in ('loss_kd', 'loss_nd', 'loss_hcl'):
        assert torch.isfinite(losses[key]) and losses[key].requires_grad
    (losses['loss_kd'] + losses['loss_nd'] + losses['loss_hcl']).backward()
    fc = distiller.student.roi_head.bbox_head.shared_fcs[0].weight
    assert fc.grad is not None and fc.grad.abs().sum() > 0
    abf = distiller.connectors['student_feats'].abfs[0].conv1[0].weight
    assert abf.grad is not None and abf.grad.abs().sum() > 0
    assert all(p.grad is None for p in distiller.teacher.parameters())


def test_teacher_untouched_in_eval_and_never_runs_rpn(teacher_ckpt):
    distiller = build(teacher_ckpt, {**KD_PP, **HCL}, REVIEW)
    teacher = distiller.teacher
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = distiller.student.roi_head.bbox_head.fc_cls.weight.clone()
    calls = {'rpn': 0, 'bbox_head': 0}

    def count(name):
        def hook(*_):
            calls[name] += 1
        return hook

    teacher.rpn_head.register_forward_hook(count('rpn'))
    teacher.roi_head.bbox_head.register_forward_hook(count('bbox_head'))
    optim = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=0.02, momentum=0.9))
    distiller.train()
    _, data = batch(distiller)
    for _ in range(3):
        log = distiller.train_step(data, optim)
        assert torch.isfinite(log['loss'])
    assert calls == {'rpn': 0, 'bbox_head': 3}
    assert not teacher.training
    assert all(not m.training for m in teacher.modules())
    assert all(not p.requires_grad for p in teacher.parameters())
    after = teacher.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert not torch.equal(
        student_before, distiller.student.roi_head.bbox_head.fc_cls.weight)


def test_state_dict_and_parameters_hold_no_teacher(kdpp_review):
    distiller = kdpp_review[0]
    keys = distiller.state_dict().keys()
    assert all(k.startswith(('student.', 'connectors.')) for k in keys)
    assert any(k.startswith('connectors.student_feats.') for k in keys)
    teacher_ids = {id(p) for p in distiller.teacher.parameters()}
    assert not teacher_ids & {id(p) for p in distiller.parameters()}


def test_pure_reviewkd_skips_teacher_roi_head(teacher_ckpt):
    distiller = build(teacher_ckpt, HCL, REVIEW).train()
    assert not distiller.needs_class_centers
    fired = []
    distiller.teacher.roi_head.register_forward_pre_hook(
        lambda *_: fired.append('roi_head'))
    distiller.teacher.roi_head.bbox_head.register_forward_hook(
        lambda *_: fired.append('bbox_head'))
    inputs, _ = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert fired == []
    assert 'teacher_feats' in values and 'teacher_embed' not in values
    assert len(values['student_feats']) == 5
    losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
    assert torch.isfinite(losses['loss_hcl'])


def test_dkd_on_roi_logits(teacher_ckpt):
    dkd = dict(loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=8.0,
                             temperature=1.0))
    distiller = build(teacher_ckpt, dkd).train()
    inputs, _ = batch(distiller)
    losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
    assert torch.isfinite(losses['loss_dkd']) and losses['loss_dkd'] > 0


def test_class_centres_pre_pass(teacher_ckpt):
    distiller = build(teacher_ckpt, centers=False).train()
    assert distiller.expected_centers_shape() == (K + 1, 1024)
    student_before = {k: v.clone()
                      for k, v in distiller.student.state_dict().items()}
    _, data = batch(distiller)
    embeds, labels = distiller.teacher_embeddings_for_centers(data)
    assert embeds.shape == (labels.shape[0], 1024)
    assert int(labels.min()) >= 0 and int(labels.max()) == K
    assert not embeds.requires_grad
    assert distiller.student.training, 'student mode restored'
    for key, value in distiller.student.state_dict().items():
        assert torch.equal(value, student_before[key]), key
    with pytest.raises(ValueError, match=r'nd_mmdet\.ClassCentersHook'):
        inputs, _ = batch(distiller)
        distiller.loss(inputs['inputs'], inputs['data_samples'])
    torch.manual_seed(0)
    centers, counts = compute_class_centers(distiller, [data], max_iters=1)
    assert centers.shape == (K + 1, 1024) and counts[K] > 0
    distiller.set_class_centers(centers)
    with pytest.raises(ValueError, match=r'expected \(4, 1024\)'):
        distiller.set_class_centers(torch.zeros(K, 1024))


def test_student_only_predicts(teacher_ckpt):
    distiller = build(None, build_teacher=False).eval()
    assert not distiller.has_teacher
    _, data = batch(distiller)
    with torch.no_grad():
        results = distiller.test_step(data)
    assert len(results) == 2
    assert results[0].pred_instances.bboxes.shape[1] == 4
    assert len(results[0].pred_instances) > 0


# ------------------------------------------------------------------ errors
def test_class_count_mismatch(teacher_ckpt):
    with pytest.raises(ValueError, match=r'num_classes'):
        build(teacher_ckpt, student=detector_cfg(num_classes=K + 1))


def test_box_head_without_shared_fcs(teacher_ckpt):
    no_fc = detector_cfg(
        type='ConvFCBBoxHead', num_shared_fcs=0, num_cls_fcs=1,
        num_reg_fcs=1)
    with pytest.raises(ValueError, match='num_shared_fcs=0'):
        build(teacher_ckpt, student=no_fc)
    # KD on the RoI logits alone needs no shared FCs
    kd = build(teacher_ckpt, dict(loss_kd=KD_PP['loss_kd']), student=no_fc)
    assert not kd.needs_class_centers


def test_embedding_width_needs_projector(teacher_ckpt):
    narrow = detector_cfg(fc_out_channels=512)
    with pytest.raises(ValueError, match='no projector'):
        build(teacher_ckpt, student=narrow)
    wrong = dict(student_embed=dict(
        type='EmbeddingProjector', in_channels=256, out_channels=1024))
    with pytest.raises(ValueError, match='connectors.student_embed'):
        build(teacher_ckpt, connectors=wrong, student=narrow)
    right = dict(student_embed=dict(
        type='EmbeddingProjector', in_channels=512, out_channels=1024))
    distiller = build(teacher_ckpt, connectors=right, student=narrow).train()
    inputs, _ = batch(distiller)
    _, values = distiller.forward_distill(inputs['inputs'],
                                          inputs['data_samples'])
    assert values['student_embed'].shape[1] == 1024


def test_preprocessor_mismatch(teacher_ckpt):
    teacher = detector_cfg()
    teacher['data_preprocessor'].update(mean=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match='data_preprocessor.mean'):
        build(teacher_ckpt, teacher=teacher)


def test_not_a_two_stage_detector(teacher_ckpt):
    with pytest.raises(ValueError, match='two-stage detector'):
        build(teacher_ckpt,
              student='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py')


# ------------------------------------------------------ repository configs
#: method.md, COCO detection: (KD++ nd, ReviewKD hcl, ReviewKD++ nd) per pair;
#: DKD(++) alpha 1 / beta 8 / T 1 and the KD++ nd weight (no paper values).
PAIRS = {'r101-r18': (1.5, 1.2, 1.5), 'r101-r50': (1.0, 1.4, 1.0),
         'r50-mv2': (1.0, 2.2, 1.5)}


def coco_config(method, pair):
    return Config.fromfile(osp.join(
        REPO, f'configs/coco/{method}/'
        f'{method}_faster-rcnn_{pair}_fpn_ms-1x_coco.py'))


@pytest.mark.parametrize('pair', sorted(PAIRS))
def test_coco_configs_losses_and_weights(pair):
    nd, hcl, review_nd = PAIRS[pair]
    kd = dict(type='KDLoss', temperature=1.0, loss_weight=1.0)
    dkd = dict(type='DKDLoss', alpha=1.0, beta=8.0, temperature=1.0,
               loss_weight=1.0)
    want = {
        'kd': dict(loss_kd=kd),
        'kd++': dict(loss_kd=kd, loss_nd=dict(type='NDLoss', loss_weight=nd)),
        'dkd': dict(loss_dkd=dkd),
        'dkd++': dict(loss_dkd=dkd,
                      loss_nd=dict(type='NDLoss', loss_weight=nd)),
        'reviewkd': dict(loss_hcl=dict(type='HCLLoss', loss_weight=hcl)),
        'reviewkd++': dict(loss_hcl=dict(type='HCLLoss', loss_weight=hcl),
                           loss_nd=dict(type='NDLoss',
                                        loss_weight=review_nd)),
    }
    for method, losses in want.items():
        cfg = coco_config(method, pair)
        assert cfg.default_scope == 'mmdet'
        assert cfg.model._scope_ == 'nd_mmdet'
        assert cfg.model.type == 'TwoStageDistiller'
        assert cfg.model.distill_losses.to_dict() == losses, method
        connectors = cfg.model.get('connectors') or {}
        assert ('student_feats' in connectors) == method.startswith('review')
        assert cfg.custom_hooks == [
            dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
            dict(type='nd_mmdet.ReseedPerEpochHook'),
            dict(type='nd_mmdet.TrainingHealthHook')]
        resize = cfg.train_dataloader.dataset.pipeline[2]
        assert resize.type == 'RandomChoiceResize'
        assert [s[1] for s in resize.scales] == list(range(640, 801, 32))
        assert cfg.train_cfg.max_epochs == 12
        assert cfg.train_dataloader.dataset.data_root == 'data/coco/'


def test_r50_mv2_config_builds_and_trains_a_step(tmp_path):
    """The real R50 -> MobileNetV2 ReviewKD++ config: MV2 FPN student, R50
    teacher, 81 x 1024 centres, one loss on a 128 px batch."""
    cfg = coco_config('reviewkd++', 'r50-mv2')
    from nd_mmdet.utils import build_model_from_spec
    teacher = build_model_from_spec(cfg.model.teacher)
    ckpt = str(tmp_path / 'r50.pth')
    torch.save(teacher.state_dict(), ckpt)
    cfg.model.teacher_ckpt = ckpt
    distiller = MODELS.build(cfg.model).train()
    assert type(distiller.student.backbone).__name__ == 'MobileNetV2'
    assert distiller.expected_centers_shape() == (81, 1024)
    distiller.set_class_centers(torch.rand(81, 1024) + 0.1)
    data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2], num_classes=80)
    inputs = distiller.data_preprocessor(data, True)
    losses = distiller.loss(inputs['inputs'], inputs['data_samples'])
    assert torch.isfinite(losses['loss_hcl']) and torch.isfinite(
        losses['loss_nd'])


def test_centre_pre_pass_leaves_an_infinite_loader_running():
    """mmengine's InfiniteSampler shares one index generator between all
    iterations of its loader: the pre-pass must not stop (close) it, or the
    IterBasedTrainLoop's data stream ends."""
    from mmengine.dataset import InfiniteSampler
    from torch.utils.data import DataLoader

    class Fake:
        device = torch.device('cpu')

        def expected_centers_shape(self):
            return 2, 1

        def teacher_embeddings_for_centers(self, data):
            return data.float().view(-1, 1), data % 2

    dataset = list(range(10))
    loader = DataLoader(dataset, batch_size=2,
                        sampler=InfiniteSampler(dataset, seed=0))
    stream = iter(loader)
    next(stream)
    centers, counts = compute_class_centers(Fake(), loader, max_iters=2)
    assert counts.sum() == 4
    gc.collect()
    for _ in range(20):  # still infinite
        next(stream)


# ----------------------------------------------------------- Cascade R-CNN
@pytest.fixture(scope='module')
def cascade_ckpt(tmp_path_factory):
    from tests.detector_zoo import tiny_detector
    torch.manual_seed(1)
    teacher = MODELS.build(tiny_detector('cascade_rcnn', width=2))
    path = str(tmp_path_factory.mktemp('cascade') / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


def build_cascade(ckpt, **kwargs):
    from tests.detector_zoo import tiny_detector
    torch.manual_seed(0)
    return TwoStageDistiller(
        student=tiny_detector('cascade_rcnn', width=1),
        teacher=tiny_detector('cascade_rcnn', width=2), teacher_ckpt=ckpt,
        connectors=dict(student_embed=dict(
            type='EmbeddingProjector', in_channels=32, out_channels=64)),
        **kwargs)


def test_cascade_every_stage_and_nd_stage(cascade_ckpt):
    """KD rows: every stage's sampled RoIs in stage order, each scored by
    the student's and the teacher's box head of that stage; ND rows: the
    chosen stage's RoIs, box features and labels."""
    for nd_stage in (0, 2):
        distiller = build_cascade(
            cascade_ckpt, distill_losses=copy.deepcopy(KD_PP),
            nd_stage=nd_stage).eval()
        assert distiller.kd_stages == [0, 1, 2]
        assert distiller.expected_centers_shape() == (K + 1, 64)
        data = demo_mm_inputs(2, (3, 128, 128), num_items=[3, 2],
                              num_classes=K)
        data = distiller.data_preprocessor(data, True)
        _, values = distiller.forward_distill(data['inputs'],
                                              data['data_samples'])
        stage_rois = values['stage_rois']
        assert sorted(stage_rois) == [0, 1, 2]
        assert torch.equal(values['rois'], stage_rois[nd_stage])
        num = [stage_rois[s].shape[0] for s in range(3)]
        assert values['student_logits'].shape == (sum(num), K + 1)
        assert values['labels'].shape == (num[nd_stage], )
        assert values['student_embed'].shape == (num[nd_stage], 64)
        with torch.no_grad():
            s_feats = distiller.student.extract_feat(data['inputs'])
            t_feats = distiller.teacher.extract_feat(data['inputs'])
            s_logits, t_logits = [], []
            for stage in range(3):
                s_logits.append(distiller.student.roi_head._bbox_forward(
                    stage, s_feats, stage_rois[stage])['cls_score'])
                t_logits.append(distiller.teacher.roi_head._bbox_forward(
                    stage, t_feats, stage_rois[stage])['cls_score'])
            head = distiller.teacher.roi_head.bbox_head[nd_stage]
            feats = distiller.teacher.roi_head.bbox_roi_extractor[nd_stage](
                t_feats[:4], stage_rois[nd_stage])
            t_embed = feats.flatten(1)
            for fc in head.shared_fcs:
                t_embed = F.relu(fc(t_embed))
        torch.testing.assert_close(values['student_logits'],
                                   torch.cat(s_logits))
        torch.testing.assert_close(values['teacher_logits'],
                                   torch.cat(t_logits))
        torch.testing.assert_close(values['teacher_embed'], t_embed)


def test_cascade_stage_errors(cascade_ckpt):
    dkd = dict(loss_dkd=dict(type='DKDLoss'))
    with pytest.raises(ValueError, match=r"loss_dkd reads .*logits come from "
                       r"stages \[0, 1, 2\], the labels and embeddings from "
                       r'stage 0; set cascade_stages=\[0\]'):
        build_cascade(cascade_ckpt, distill_losses=dkd)
    distiller = build_cascade(cascade_ckpt, distill_losses=dkd,
                              cascade_stages=[1], nd_stage=1)
    assert distiller.kd_stages == [1] and distiller.nd_stage == 1
    with pytest.raises(ValueError, match=r'nd_stage must be stage indices '
                       r'in \[0, 3\).*got 3'):
        build_cascade(cascade_ckpt, distill_losses=KD_PP, nd_stage=3)
    with pytest.raises(ValueError, match='cascade_stages / nd_stage are for '
                       'Cascade R-CNN'):
        TwoStageDistiller(student=detector_cfg(), teacher=detector_cfg(),
                          build_teacher=False, cascade_stages=[0])


def test_teacher_roi_head_runs_in_chunks(kdpp_review):
    """The teacher's RoI head runs on chunks of RoIs (the step's peak
    memory); the values equal those of one call on all RoIs, also when R is
    not a multiple of the chunk, and there is a value for no RoI."""
    distiller, inputs, _, values = kdpp_review
    stage_rois = values['stage_rois']
    num = values['rois'].shape[0]
    assert num > 2 * 7 and num % 7
    feats = distiller.teacher_features(inputs['inputs'])
    whole = distiller.teacher_roi_values(feats, stage_rois)
    distiller.teacher_roi_chunk = 7
    try:
        chunked = distiller.teacher_roi_values(feats, stage_rois)
        empty = distiller.teacher_roi_values(
            feats, {k: v[:0] for k, v in stage_rois.items()})
    finally:
        del distiller.teacher_roi_chunk  # back to the class default
    assert distiller.teacher_roi_chunk == TwoStageDistiller.teacher_roi_chunk
    for key in ('teacher_embed', 'teacher_logits'):
        torch.testing.assert_close(chunked[key], whole[key])
        assert empty[key].shape == (0, whole[key].shape[1])

"""Ground-truth-box embeddings on hand-built cases: boxes kept / clipped /
dropped, the level each box size selects, and the pooled vector of known
boxes on linear feature maps; then NeckDistiller's ND at ground-truth boxes
(values, gradient, teacher untouched, the class-centre pre-pass and its
file)."""
import copy

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from nd_mmdet.engine.class_centers import prepare_class_centers
from nd_mmdet.models.distillers import NeckDistiller
from nd_mmdet.models.distillers.gt_box_embeddings import (box_levels,
                                                          gt_boxes,
                                                          pool_boxes)
from nd_mmdet.utils import build_model_from_spec
from tests.detector_zoo import tiny_detector

torch.set_num_threads(1)


def sample(boxes, labels, img_shape=(96, 128)):
    data = DetDataSample(metainfo=dict(img_shape=img_shape))
    data.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return data


def test_boxes_clipped_and_degenerate_ones_dropped():
    samples = [
        sample([[10, 20, 50, 60],      # kept as is
                [-8, 90, 30, 120],     # clipped to (0, 90, 30, 96)
                [40, 40, 40, 70],      # zero width: dropped
                [130, 10, 160, 30]],   # right of the 128 px image: dropped
               [2, 0, 1, 1]),
        sample([], []),
        sample([[0, 0, 128, 96], [5, 5, 5.5, 20]], [1, 2]),  # 0.5 px wide
    ]
    rois, labels = gt_boxes(samples)
    assert rois.tolist() == [[0, 10, 20, 50, 60], [0, 0, 90, 30, 96],
                             [2, 0, 0, 128, 96]]
    assert labels.tolist() == [2, 0, 1]
    rois, labels = gt_boxes(samples, min_size=0.5)
    assert labels.tolist() == [2, 0, 1, 2]
    rois, labels = gt_boxes([sample([], [])])
    assert rois.shape == (0, 5) and labels.shape == (0, )


@pytest.mark.parametrize('side, strides, expected', [
    # k = floor(4 + log2(side / 224)): 224 -> 4 (stride 16), 448 -> 5,
    # 10 -> -1 (finest), 112 -> 3 (stride 8), 2000 -> 7 (coarsest: 64)
    (224, (8, 16, 32, 64), 1), (448, (8, 16, 32, 64), 2),
    (10, (8, 16, 32, 64), 0), (112, (8, 16, 32, 64), 0),
    (2000, (8, 16, 32, 64), 3), (112, (4, 8, 16, 32, 64), 1),
    # CenterNet: one level; descending strides are handled
    (448, (4, ), 0), (448, (32, 16, 8), 0), (60, (32, 16, 8), 2),
    # k = 3 (stride 8) between strides 4 and 16: the finer one on a tie
    (112, (4, 16), 0),
])
def test_box_levels(side, strides, expected):
    rois = torch.tensor([[0, 0, 0, side, side]], dtype=torch.float32)
    assert box_levels(rois, strides).tolist() == [expected]


def test_pool_boxes_on_linear_maps():
    """Channel 0 = column index, channel 1 = row index, channel 2 = 1:
    RoIAlign (aligned) samples the map at continuous positions
    (x / stride - 0.5), so a box's average is its centre / stride - 0.5."""
    def ramp(height, width):
        rows = torch.arange(height, dtype=torch.float32).view(-1, 1)
        cols = torch.arange(width, dtype=torch.float32).view(1, -1)
        return torch.stack([cols.expand(height, width),
                            rows.expand(height, width),
                            torch.ones(height, width)]).unsqueeze(0)

    feats = [ramp(32, 32).repeat(2, 1, 1, 1), ramp(16, 16).repeat(2, 1, 1,
                                                                  1)]
    strides = [8, 16]
    rois = torch.tensor([[0, 16, 32, 80, 96],      # centre (48, 64)
                         [1, 40, 8, 200, 104],     # centre (120, 56)
                         [0, 64, 64, 192, 192]])   # centre (128, 128)
    levels = torch.tensor([0, 1, 1])
    out = pool_boxes(feats, strides, rois, levels)
    expected = [[48 / 8 - 0.5, 64 / 8 - 0.5, 1], [120 / 16 - 0.5,
                                                   56 / 16 - 0.5, 1],
                [128 / 16 - 0.5, 128 / 16 - 0.5, 1]]
    torch.testing.assert_close(out, torch.tensor(expected), atol=1e-5,
                               rtol=0)
    # the second image of the batch is read for the second box
    feats[1][1] += 10
    assert pool_boxes(feats, strides, rois, levels)[1, 2].item() == \
        pytest.approx(11)


ND = dict(loss_nd=dict(type='NDLoss', loss_weight=1.0))
PROJECTOR = dict(student_embed=dict(type='EmbeddingProjector',
                                    in_channels=16, out_channels=32))


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('gt_box') / 'faster_rcnn.pth')
    torch.manual_seed(1)
    model = build_model_from_spec(tiny_detector('faster_rcnn', width=2))
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def build(ckpt, **kwargs):
    torch.manual_seed(0)
    return NeckDistiller(student=tiny_detector('rtmdet', width=1),
                         teacher=tiny_detector('faster_rcnn', width=2),
                         teacher_ckpt=ckpt, distill_losses=copy.deepcopy(ND),
                         **kwargs)


def raw_batch():
    """Two 96 x 128 images (uint8), three boxes of known size."""
    images = [torch.randint(0, 255, (3, 96, 128), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(i))
              for i in range(2)]
    samples = [sample([[10, 10, 60, 50], [0, 0, 128, 96]], [0, 2]),
               sample([[30, 20, 40, 90]], [1])]
    for s in samples:
        s.set_metainfo(dict(batch_input_shape=(96, 128), ori_shape=(96, 128),
                            scale_factor=(1.0, 1.0)))
    return dict(inputs=images, data_samples=samples)


def test_nd_at_gt_boxes_values_and_gradient(teacher_ckpt):
    """Heterogeneous pair (Faster R-CNN -> RTMDet): the embeddings equal
    the pooled extract_feat maps of each model at the boxes."""
    distiller = build(teacher_ckpt, connectors=copy.deepcopy(PROJECTOR))
    assert distiller.expected_centers_shape() == (3, 32)
    distiller.set_class_centers(torch.rand(3, 32) + 0.1)
    data = distiller.data_preprocessor(raw_batch(), True)
    # eval: a second student forward gives the same maps, and the
    # projector's BN / dropout are deterministic
    distiller.eval()
    _, values = distiller.forward_distill(data['inputs'],
                                          data['data_samples'])
    assert values['labels'].tolist() == [0, 2, 1]
    rois = torch.tensor([[0, 10, 10, 60, 50], [0, 0, 0, 128, 96],
                         [1, 30, 20, 40, 90]], dtype=torch.float32)
    levels = box_levels(rois, [8, 16, 32])
    assert levels.tolist() == [0, 0, 0]  # all below 112 px: stride 8
    t_inputs = distiller.teacher.data_preprocessor(raw_batch(),
                                                   True)['inputs']
    t_feats = distiller.teacher.extract_feat(t_inputs)[1:4]
    s_feats = distiller.student.extract_feat(data['inputs'])
    torch.testing.assert_close(
        values['teacher_embed'],
        pool_boxes(t_feats, [8, 16, 32], rois, levels), atol=1e-4, rtol=1e-4)
    projector = distiller.connectors['student_embed']
    torch.testing.assert_close(
        values['student_embed'],
        projector(pool_boxes(list(s_feats), [8, 16, 32], rois, levels)),
        atol=1e-5, rtol=1e-5)

    distiller.train()
    before = {k: v.clone() for k, v in distiller.teacher.state_dict().items()}
    losses = distiller.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['loss_nd']) and losses['loss_nd'] > 0
    losses['loss_nd'].backward()
    grad = distiller.student.backbone.stem[0].conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    after = distiller.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in distiller.teacher.parameters())


def test_class_centre_prepass_and_file(teacher_ckpt, tmp_path):
    """The pre-pass averages the teacher's box embeddings per class; the
    file records classes, width, counts and the teacher's digest, and is
    refused (given by the user) or recomputed (the work dir's cache) for
    another teacher."""
    distiller = build(teacher_ckpt, connectors=copy.deepcopy(PROJECTOR))
    batches = [raw_batch(), raw_batch()]
    path = str(tmp_path / 'class_centers.pth')
    centers = prepare_class_centers(distiller, batches, None, path)
    embeds, labels = distiller.teacher_embeddings_for_centers(raw_batch())
    expected = torch.stack([embeds[labels == k].mean(0) for k in range(3)])
    torch.testing.assert_close(centers, expected, atol=1e-5, rtol=1e-5)
    saved = torch.load(path, weights_only=True)
    assert saved['counts'].tolist() == [2, 2, 2]
    assert (saved['num_classes'], saved['dim']) == (3, 32)
    assert saved['teacher_digest'] == distiller.teacher_digest
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=distiller.teacher.state_dict(), x=1), other)
    other_distiller = build(other, connectors=copy.deepcopy(PROJECTOR))
    # given as centers_file: refused; as the work dir's cache: recomputed
    with pytest.raises(ValueError, match='another teacher'):
        prepare_class_centers(other_distiller, batches, path,
                              str(tmp_path / 'unused.pth'))
    prepare_class_centers(other_distiller, batches, None, path)
    assert torch.load(path, weights_only=True)['teacher_digest'] == \
        other_distiller.teacher_digest


def test_box_nd_build_errors(teacher_ckpt):
    with pytest.raises(ValueError, match=r"student neck feature is 16-d but "
                       r"teacher neck feature is 32-d .*EmbeddingProjector"):
        build(teacher_ckpt)
    teacher = tiny_detector('faster_rcnn', width=2)
    teacher['roi_head']['bbox_head']['num_classes'] = 5
    with pytest.raises(ValueError, match='student has 3 classes but teacher '
                       'has 5'):
        build_with_teacher(teacher, teacher_ckpt)
    distiller = build(teacher_ckpt, connectors=copy.deepcopy(PROJECTOR),
                      num_classes=3)
    assert distiller.expected_centers_shape() == (3, 32)


def build_with_teacher(teacher, ckpt):
    """Teacher with 5 classes: its checkpoint (3 classes) cannot load, so
    the class check is reached through a matching checkpoint."""
    model = build_model_from_spec(teacher)
    path = ckpt.replace('.pth', '_5cls.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return NeckDistiller(student=tiny_detector('rtmdet', width=1),
                         teacher=teacher, teacher_ckpt=path,
                         distill_losses=copy.deepcopy(ND),
                         connectors=copy.deepcopy(PROJECTOR))

"""Ground-truth-box embeddings: one vector per ground-truth box, pooled from
a detector's neck, for ND on any detector (no head involved).

Definition (the reason: ND's embedding in classification is the globally
average-pooled penultimate feature of the image; for a detector the object
is the box, and the neck is the last feature every family shares):

- boxes: each image's ``gt_instances.bboxes`` (x1, y1, x2, y2 in the
  batch's input coordinates, i.e. after the data pipeline's resizing),
  clipped to the image (``img_shape``); a box whose clipped width or height
  is below ``min_size`` pixels (degenerate, or outside the image) is
  dropped; ``ignored_instances`` are not used. Labels: ``gt_instances.labels``
  (``0..K-1``, no background).
- level: the FPN paper's scale rule, ``k = floor(4 + log2(sqrt(w h) / 224))``
  (MMDetection's ``map_roi_levels`` with ``finest_scale=56``), then the
  paired level whose stride ``2^j`` is nearest to ``2^k`` (``|j - k|``
  smallest, the finer level on a tie): boxes of 224 px pool from stride 16,
  smaller ones from finer levels, down to the finest paired level.
- vector: ``RoIAlign`` (mmcv, ``aligned=True``, ``sampling_ratio=0``) of the
  box on that level to ``output_size x output_size`` (7), averaged over the
  bins -> ``(C,)``, the box's average neck feature.
"""
import math

import torch
from mmcv.ops import roi_align


def gt_boxes(data_samples, min_size=1.0):
    """``(rois (M, 5), labels (M,))``: batch index + clipped x1y1x2y2 of
    every kept ground-truth box, and its label, images in batch order."""
    rois, labels = [], []
    for index, sample in enumerate(data_samples):
        instances = sample.gt_instances
        boxes = instances.bboxes
        boxes = getattr(boxes, 'tensor', boxes).float()
        if boxes.numel() == 0:
            continue
        height, width = sample.metainfo['img_shape'][:2]
        boxes = torch.stack([
            boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
            boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)
        ], dim=1)
        keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & \
            ((boxes[:, 3] - boxes[:, 1]) >= min_size)
        boxes = boxes[keep]
        rois.append(torch.cat([boxes.new_full((len(boxes), 1), index),
                               boxes], dim=1))
        labels.append(instances.labels[keep].long())
    if not rois:
        device = data_samples[0].gt_instances.labels.device \
            if data_samples else 'cpu'
        return torch.zeros(0, 5, device=device), \
            torch.zeros(0, dtype=torch.long, device=device)
    return torch.cat(rois), torch.cat(labels)


def box_levels(rois, strides):
    """Index into ``strides`` of the level each box pools from (see the
    module docstring). ``rois`` ``(M, 5)`` -> ``(M,)`` long."""
    exponents = torch.tensor([math.log2(s) for s in strides],
                             device=rois.device)
    scale = ((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])).sqrt()
    k = torch.floor(4 + torch.log2(scale / 224 + 1e-6))
    distance = (exponents.unsqueeze(0) - k.unsqueeze(1)).abs()
    # argmin returns the first minimum: the finer level on a tie when the
    # strides are in ascending order
    order = sorted(range(len(strides)), key=lambda i: strides[i])
    ranked = distance[:, order].argmin(dim=1)
    return torch.tensor(order, device=rois.device)[ranked]


def boxes_and_levels(data_samples, strides, min_size=1.0):
    """``(rois (M, 5), labels (M,), levels (M,))``: :func:`gt_boxes` and
    the level of each box among ``strides`` (:func:`box_levels`)."""
    rois, labels = gt_boxes(data_samples, min_size)
    return rois, labels, box_levels(rois, strides)


def pool_boxes(feats, strides, rois, levels, output_size=7):
    """Average RoIAlign feature of each box on its level.

    Args:
        feats (list[Tensor]): ``(N, C, H_l, W_l)`` maps, one per stride
            (all of one width ``C``).
        strides (list[int]): the maps' strides.
        rois (Tensor): ``(M, 5)`` from :func:`gt_boxes`.
        levels (Tensor): ``(M,)`` from :func:`box_levels`.
        output_size (int): RoIAlign bins per side.

    Returns:
        Tensor: ``(M, C)``, rows in the order of ``rois``; differentiable
        with respect to ``feats``.
    """
    width = feats[0].shape[1]
    out = feats[0].new_zeros(rois.shape[0], width)
    for level, (feat, stride) in enumerate(zip(feats, strides)):
        rows = (levels == level).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        pooled = roi_align(feat, rois[rows].to(feat.dtype),
                           (output_size, output_size), 1.0 / stride, 0,
                           'avg', True)
        out = out.index_copy(0, rows, pooled.mean(dim=(2, 3)))
    return out

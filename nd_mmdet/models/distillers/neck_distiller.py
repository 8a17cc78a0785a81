"""Distillation of any MMDetection detector at the neck: the student's
``extract_feat`` levels imitate the teacher's on the strides both have.

Nothing is read from either head, so every detector family works (one- or
two-stage, cascade, DETR-family, YOLOX, RTMDet, CenterNet ...) and teacher
and student may be of different families: a Faster R-CNN teacher (P2-P6)
and a RetinaNet student (P3-P7) are distilled on P3-P6.

- The student trains with its own ``loss``, unchanged; a forward hook on
  its ``neck`` (``backbone`` when it has none) records the levels that
  ``extract_feat`` returned inside that call.
- The teacher (frozen, eval, no gradient; see :class:`BaseDistiller`) runs
  ``extract_feat`` only (backbone + neck), before the student, on the same
  augmented batch re-normalised its own way when its preprocessor differs
  (:class:`TeacherInputMap`).
- Levels are paired by stride, measured at build time by a probe
  (:mod:`.neck_levels`); at a pair the two maps have the same stride, and a
  size that differs by rounding or by the teacher's larger pad divisor is
  cropped to the common top-left area (the rest is padding).
- Channel widths that differ need a ``student_feats`` connector
  (``ConvBNConnector``, or ``ReviewKDConnector`` for ReviewKD); the widths
  are checked at build time.
- ND at ground-truth boxes (:mod:`.gt_box_embeddings`): one embedding per
  ground-truth box and model, the box's average RoIAlign feature on the
  paired level its size selects; labels are the boxes' classes; class
  centres are the per-class means of the teacher's box embeddings.
"""
import math

import torch
from mmengine.logging import print_log

from nd_mmdet.registry import MODELS
from .base_distiller import BaseDistiller
from .gt_box_embeddings import boxes_and_levels, pool_boxes
from .neck_levels import (describe_pairs, feature_tuple, match_levels,
                          probe_levels)
from .recorder import OutputRecorder
from .teacher_inputs import TeacherInputMap


@MODELS.register_module()
class NeckDistiller(BaseDistiller):
    """Distil the neck (FPN / PAFPN / channel mapper ...) levels of any
    MMDetection detector into any other.

    Values handed to the losses (``L`` = number of paired levels, in the
    student's level order):

    - ``student_feats``: list of ``L`` maps ``(N, C_l, H_l, W_l)``, the
      student's paired levels after the ``student_feats`` connector;
    - ``teacher_feats``: list of ``L`` maps of the same shapes, the
      teacher's levels of the same strides;
    - ``student_embed`` / ``teacher_embed``: ``(M, D)`` ground-truth-box
      embeddings (``M`` kept boxes in the batch; see
      :mod:`.gt_box_embeddings`), the student's from its paired levels
      before the ``student_feats`` connector, then through the
      ``student_embed`` connector (``EmbeddingProjector`` when the neck
      widths differ);
    - ``labels``: ``(M,)`` the boxes' classes ``0..K-1``;
    - ``class_centers``: ``(K, D_t)``, per-class mean of the teacher's box
      embeddings (``ClassCentersHook``).

    Losses: ``PKDLoss``, ``CWDLoss``, ``HCLLoss`` (with
    ``ReviewKDConnector``), ``NDLoss`` (ND at ground-truth boxes), or any
    registered loss whose ``forward`` reads these names.

    Args:
        student (dict | str): the student detector.
        teacher (dict | str): the teacher detector (any family).
        teacher_ckpt (str): teacher checkpoint, loaded strictly.
        distill_losses (dict[str, dict]): loss name -> loss config.
        connectors (dict[str, dict]): ``student_feats`` (its
            ``in_channels`` / ``out_channels``, when it has them, must be
            the paired levels' widths) and ``student_embed`` (ND's
            projector).
        strides (list[int], optional): distil only these strides (default:
            all the strides both models have).
        level_pairs (list[tuple[int, int]], optional): explicit
            ``(student_index, teacher_index)`` pairs into ``extract_feat``'s
            outputs, instead of matching by stride.
        probe_size (int): side of the zero image that measures the strides
            at build time; a multiple of every stride (default 256).
        num_classes (int, optional): K of the ground-truth-box ND; default
            the models' ``bbox_head`` / ``roi_head.bbox_head``
            ``num_classes`` (which must agree).
        box_output_size (int): RoIAlign bins per side of a box embedding.
        box_min_size (float): boxes narrower or lower than this (pixels,
            after clipping to the image) get no embedding.
        Other arguments: see :class:`BaseDistiller`.

    Raises:
        ValueError: at build time, when a model has no ``extract_feat`` or
            its levels are not maps, the strides share nothing (or a
            requested stride / pair is missing), the widths differ without a
            connector (the message gives the connector to add) or the
            connector's widths are wrong; for ND, paired levels of several
            widths, embedding widths without a projector, or no / different
            numbers of classes.
    """

    AVAILABLE_INPUTS = ('student_feats', 'teacher_feats', 'student_embed',
                        'teacher_embed', 'labels', 'class_centers')
    CONNECTABLE_INPUTS = ('student_feats', 'student_embed')
    #: Inputs computed at the ground-truth boxes.
    BOX_INPUTS = ('student_embed', 'teacher_embed', 'labels',
                  'class_centers')

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 strides=None,
                 level_pairs=None,
                 probe_size=256,
                 num_classes=None,
                 box_output_size=7,
                 box_min_size=1.0,
                 **kwargs):
        super().__init__(
            student,
            teacher,
            teacher_ckpt=teacher_ckpt,
            distill_losses=distill_losses,
            connectors=connectors,
            **kwargs)
        path = 'neck' if getattr(self.student, 'with_neck', False) \
            else 'backbone'
        self._student_recorder = OutputRecorder(self.student,
                                                {'feats': path}, 'student')
        self.level_pairs = None
        self.num_classes = num_classes
        self.box_output_size = box_output_size
        self.box_min_size = box_min_size
        self.uses_gt_boxes = bool(self.required_inputs &
                                  set(self.BOX_INPUTS))
        if self.has_teacher:
            levels = (probe_levels(self.student, 'student', probe_size),
                      probe_levels(self.teacher, 'teacher', probe_size))
            self.level_pairs = match_levels(
                *levels, strides=strides, level_pairs=level_pairs)
            if 'teacher_feats' in self.required_inputs:
                self._check_widths()
            if self.uses_gt_boxes:
                self._check_box_embeddings()
            self.teacher_input = TeacherInputMap(
                self.student.data_preprocessor,
                self.teacher.data_preprocessor)
            print_log('NeckDistiller: levels paired: '
                      f'{describe_pairs(self.level_pairs, *levels)}',
                      logger='current')
            print_log('NeckDistiller: teacher input: '
                      f'{describe_teacher_input(self.teacher_input)}',
                      logger='current')

    def _check_widths(self):
        s_ch = [p.student.channels for p in self.level_pairs]
        t_ch = [p.teacher.channels for p in self.level_pairs]
        strides = [p.student.stride for p in self.level_pairs]
        connector = self.connectors['student_feats'] \
            if 'student_feats' in self.connectors else None
        if connector is None:
            if s_ch != t_ch:
                raise ValueError(
                    f'student levels of strides {strides} have {s_ch} '
                    f'channels but the teacher\'s have {t_ch}: add '
                    "connectors=dict(student_feats=dict(type='ConvBNConnector'"
                    f', in_channels={s_ch}, out_channels={t_ch}))')
            return
        for attr, want in (('in_channels', s_ch), ('out_channels', t_ch)):
            have = getattr(connector, attr, None)
            if have is not None and list(have) != want:
                raise ValueError(
                    f'connectors.student_feats ({type(connector).__name__}) '
                    f'has {attr}={list(have)} but the paired levels (strides '
                    f'{strides}) need {want}')

    def _check_box_embeddings(self):
        """One width per side over the paired levels, a projector when the
        widths differ, and the number of classes."""
        dims = {}
        for side in ('student', 'teacher'):
            widths = sorted({getattr(p, side).channels
                             for p in self.level_pairs})
            if len(widths) != 1:
                raise ValueError(
                    f'ND at ground-truth boxes needs one {side} width on '
                    f'every paired level, got {widths} (strides '
                    f'{self.pair_strides}); pick levels of one width with '
                    'strides=[...]')
            dims[side] = widths[0]
        self.check_embed_widths(dims['student'], dims['teacher'],
                                'neck feature', 'the neck out_channels')
        self.embed_dim = dims['teacher']
        found = {side: detector_num_classes(model)
                 for side, model in (('student', self.student),
                                     ('teacher', self.teacher))}
        if self.num_classes is None:
            if found['student'] is not None and found['teacher'] is not None \
                    and found['student'] != found['teacher']:
                raise ValueError(
                    f'student has {found["student"]} classes but teacher has '
                    f'{found["teacher"]}: ND at ground-truth boxes needs '
                    'one class list')
            self.num_classes = found['student'] or found['teacher']
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(
                'ND at ground-truth boxes needs the number of classes: '
                'neither model has bbox_head.num_classes or '
                'roi_head.bbox_head.num_classes; set num_classes=K')

    @property
    def pair_strides(self):
        return [p.student.stride for p in self.level_pairs]

    def expected_centers_shape(self):
        """``(K, D_t)``: classes, teacher neck width (ND at ground-truth
        boxes)."""
        if not self.uses_gt_boxes:
            raise ValueError('this NeckDistiller has no class centres (no '
                             'loss reads them)')
        return self.num_classes, self.embed_dim

    # ------------------------------------------------------------ forward
    @torch.no_grad()
    def teacher_features(self, inputs, data_samples):
        """``(the teacher's paired levels, extra padding)``, or None when no
        loss reads a teacher value."""
        if not self.required_inputs & {'teacher_feats', 'teacher_embed'}:
            return None
        return self._teacher_levels(inputs, data_samples)

    @torch.no_grad()
    def _teacher_levels(self, inputs, data_samples):
        teacher_inputs = self.teacher_input(inputs, data_samples)
        feats = feature_tuple(self.teacher.extract_feat(teacher_inputs),
                              'teacher.extract_feat')
        extra = max(teacher_inputs.shape[-1] - inputs.shape[-1],
                    teacher_inputs.shape[-2] - inputs.shape[-2])
        return [feats[p.teacher.index] for p in self.level_pairs], extra

    def _run_student_loss(self, inputs, data_samples):
        with self._student_recorder.recording() as recorded:
            losses = self.student.loss(inputs, data_samples)
        if 'feats' not in recorded:
            raise RuntimeError(
                f'student.loss did not run its {self._student_recorder.paths}'
                ' module; NeckDistiller expects loss() to call '
                'extract_feat()')
        feats = feature_tuple(recorded['feats'], 'student.extract_feat')
        return losses, [feats[p.student.index] for p in self.level_pairs]

    def _crop_pairs(self, student_feats, teacher_feats, extra):
        """Crop each pair to the common top-left area; refuse a difference
        that rounding and the teacher's extra padding ``extra`` (pixels)
        cannot explain."""
        for i, pair in enumerate(self.level_pairs):
            s, t = student_feats[i], teacher_feats[i]
            if s.shape[-2:] == t.shape[-2:]:
                continue
            allowed = math.ceil(extra / pair.student.stride) + 1
            if any(abs(a - b) > allowed
                   for a, b in zip(s.shape[-2:], t.shape[-2:])):
                raise RuntimeError(
                    f'stride {pair.student.stride}: student level '
                    f'{pair.student.index} is {tuple(s.shape[-2:])} but '
                    f'teacher level {pair.teacher.index} is '
                    f'{tuple(t.shape[-2:])}; same-stride maps of one batch '
                    f'may differ by at most {allowed}')
            height = min(s.shape[-2], t.shape[-2])
            width = min(s.shape[-1], t.shape[-1])
            student_feats[i] = s[..., :height, :width]
            teacher_feats[i] = t[..., :height, :width]

    def forward_distill(self, inputs, data_samples):
        # Teacher first: its activations are freed before the student's
        # graph is built.
        teacher = self.teacher_features(inputs, data_samples)
        student_losses, student_feats = self._run_student_loss(
            inputs, data_samples)
        values = dict(student_feats=student_feats)
        if teacher is not None:
            teacher_feats, extra = teacher
            self._crop_pairs(student_feats, teacher_feats, extra)
            values['teacher_feats'] = teacher_feats
        if self.uses_gt_boxes:
            rois, values['labels'], levels = boxes_and_levels(
                data_samples, self.pair_strides, self.box_min_size)
            values['student_embed'] = self._pool(student_feats, rois, levels)
            if teacher is not None:
                values['teacher_embed'] = self._pool(teacher_feats, rois,
                                                     levels)
        return student_losses, self.apply_connectors(values)

    def _pool(self, feats, rois, levels):
        return pool_boxes(feats, self.pair_strides, rois, levels,
                          self.box_output_size)

    def teacher_embeddings_for_centers(self, data):
        """Teacher ground-truth-box embeddings ``(M, D_t)`` and labels
        ``(M,)`` of one training batch (the student is not run)."""
        data = self.data_preprocessor(data, True)
        inputs, data_samples = data['inputs'], data['data_samples']
        feats, _ = self._teacher_levels(inputs, data_samples)
        rois, labels, levels = boxes_and_levels(
            data_samples, self.pair_strides, self.box_min_size)
        with torch.no_grad():
            embeds = self._pool(feats, rois, levels)
        return embeds, labels


def detector_num_classes(model):
    """``num_classes`` of ``bbox_head`` or ``roi_head.bbox_head`` (the last
    stage of a cascade), or None."""
    heads = [getattr(model, 'bbox_head', None),
             getattr(getattr(model, 'roi_head', None), 'bbox_head', None)]
    for head in heads:
        if isinstance(head, torch.nn.ModuleList) and len(head):
            head = head[-1]
        num = getattr(head, 'num_classes', None)
        if isinstance(num, int):
            return num
    return None


def describe_teacher_input(teacher_input):
    """How :class:`TeacherInputMap` maps the student's batch to the
    teacher's input, in one line, for the build log."""
    steps = []
    if teacher_input.remap:
        formula = 'x_t = ' + ('flip_channels(x_s)' if teacher_input.flip
                              else 'x_s')
        if teacher_input.affine:
            scale, shift = ([round(v, 4) for v in t.flatten().tolist()]
                            for t in (teacher_input.scale,
                                      teacher_input.shift))
            formula += f' * {scale} + {shift} (per channel)'
        steps.append(f're-normalised: {formula}, pad value '
                     f'{teacher_input.pad_value:g}')
    else:
        steps.append("the student's batch as is (same mean, std, channel "
                     'order and pad value)')
    if teacher_input.pad_size_divisor > 1:
        steps.append('padded to a multiple of '
                     f'{teacher_input.pad_size_divisor}')
    return ', '.join(steps)

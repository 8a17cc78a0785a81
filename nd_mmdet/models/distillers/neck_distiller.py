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
"""
import math

import torch

from nd_mmdet.registry import MODELS
from .base_distiller import BaseDistiller
from .neck_levels import feature_tuple, match_levels, probe_levels
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
      teacher's levels of the same strides.

    Losses: ``PKDLoss``, ``CWDLoss``, ``HCLLoss`` (with
    ``ReviewKDConnector``) or any registered loss whose ``forward`` reads
    ``student_feats`` / ``teacher_feats``.

    Args:
        student (dict | str): the student detector.
        teacher (dict | str): the teacher detector (any family).
        teacher_ckpt (str): teacher checkpoint, loaded strictly.
        distill_losses (dict[str, dict]): loss name -> loss config.
        connectors (dict[str, dict]): ``student_feats`` only; its
            ``in_channels`` / ``out_channels`` (when it has them) must be
            the paired levels' widths.
        strides (list[int], optional): distil only these strides (default:
            all the strides both models have).
        level_pairs (list[tuple[int, int]], optional): explicit
            ``(student_index, teacher_index)`` pairs into ``extract_feat``'s
            outputs, instead of matching by stride.
        probe_size (int): side of the zero image that measures the strides
            at build time; a multiple of every stride (default 256).
        Other arguments: see :class:`BaseDistiller`.

    Raises:
        ValueError: at build time, when a model has no ``extract_feat`` or
            its levels are not maps, the strides share nothing (or a
            requested stride / pair is missing), the widths differ without a
            connector (the message gives the connector to add) or the
            connector's widths are wrong.
    """

    AVAILABLE_INPUTS = ('student_feats', 'teacher_feats')
    CONNECTABLE_INPUTS = ('student_feats', )

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 strides=None,
                 level_pairs=None,
                 probe_size=256,
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
        if self.has_teacher:
            self.level_pairs = match_levels(
                probe_levels(self.student, 'student', probe_size),
                probe_levels(self.teacher, 'teacher', probe_size),
                strides=strides, level_pairs=level_pairs)
            self._check_widths()
            self.teacher_input = TeacherInputMap(
                self.student.data_preprocessor,
                self.teacher.data_preprocessor)

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

    def expected_centers_shape(self):
        raise ValueError('NeckDistiller has no class centres (its losses '
                         'read feature maps only)')

    # ------------------------------------------------------------ forward
    @torch.no_grad()
    def teacher_features(self, inputs, data_samples):
        """The teacher's paired levels, or None when no loss reads them."""
        if 'teacher_feats' not in self.required_inputs:
            return None
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
        return student_losses, self.apply_connectors(values)

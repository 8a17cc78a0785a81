"""Distillation of MMDetection two-stage detectors (Faster R-CNN + FPN):
KD / DKD on the RoI classification logits, ND on the RoI box features and
ReviewKD (HCL) on the FPN levels, all on the STUDENT's sampled proposals.

How the RoI values are captured without re-implementing any MMDetection code:
the student's own ``loss`` (RPN + RoI head, with its assigner and sampler)
runs once, unchanged, while hooks on modules it calls record (only inside
a recording):

- pre-hook on ``roi_head.bbox_roi_extractor``: ``rois``, its 2nd argument
  (the ``bbox2roi`` of the sampling results: batch index + x1y1x2y2);
- hook on ``roi_head.bbox_head.shared_fcs[-1]``: the last shared FC, ReLU
  applied here = the box feature of ``ConvFCBBoxHead.forward``;
- hook on ``roi_head.bbox_head``: ``(cls_score, bbox_pred)``;
- pre-hook on ``roi_head.bbox_head.loss_cls``: the labels the student's own
  classification loss uses (``get_targets``: the assigned foreground class,
  background = ``num_classes``);
- hook on ``neck``: the FPN levels.

The teacher (frozen, eval, no gradient) runs ``extract_feat`` (backbone +
FPN; before the student, so its transient activations are freed before the
student's graph is built) and, after the student, ``roi_head._bbox_forward``
on exactly those ``rois``: no teacher RPN, no teacher sampling, no teacher
losses.
"""
import torch
import torch.nn.functional as F
from torch import nn

from nd_mmdet.registry import MODELS
from .base_distiller import NECK_ALTERNATIVE, BaseDistiller
from .recorder import OutputRecorder, resolve_module

#: Inputs that need the teacher's RoI head / the teacher's box feature.
_TEACHER_ROI_INPUTS = ('teacher_embed', 'teacher_logits')
#: Inputs that need the box feature (shared FCs) of a side.
_EMBED_INPUTS = ('student_embed', 'teacher_embed')


class _ArgumentRecorder:
    """Forward pre-hook recorder of one argument of a module's forward.

    Keeps the FIRST call inside a recording (``roi_head.loss`` calls the box
    RoI extractor and the classification loss once; a mask head sharing the
    extractor would call it a second time, with positive RoIs only).
    """

    def __init__(self, module, position, keyword):
        self.position = position
        self.keyword = keyword
        self._store = None
        self._name = None
        self._handle = module.register_forward_pre_hook(
            self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        if self._store is None or self._name in self._store:
            return None
        if len(args) > self.position:
            value = args[self.position]
        else:
            value = kwargs.get(self.keyword)
        self._store[self._name] = value
        return None

    def start(self, store, name):
        self._store, self._name = store, name

    def stop(self):
        self._store = self._name = None


def _box_head_parts(model, side):
    """``(roi_head, bbox_head)`` of a two-stage detector, or a ValueError
    naming what is missing."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or not hasattr(roi_head, 'bbox_roi_extractor'):
        raise ValueError(
            f'{side}: TwoStageDistiller needs a two-stage detector whose '
            'roi_head has a bbox_roi_extractor and a bbox_head (e.g. '
            f'FasterRCNN with StandardRoIHead), got {type(model).__name__} '
            f'with roi_head {type(roi_head).__name__}{NECK_ALTERNATIVE}')
    bbox_head = getattr(roi_head, 'bbox_head', None)
    if not isinstance(bbox_head, nn.Module) or \
            isinstance(bbox_head, nn.ModuleList) or \
            not hasattr(bbox_head, 'num_classes'):
        raise ValueError(
            f'{side}.roi_head.bbox_head must be a single box head with '
            f'num_classes (multi-stage heads such as Cascade R-CNN are not '
            f'supported), got {type(bbox_head).__name__}'
            f'{NECK_ALTERNATIVE}')
    return roi_head, bbox_head


def _embed_width(bbox_head):
    """Width of the box feature after the last shared FC, or None."""
    fcs = getattr(bbox_head, 'shared_fcs', None)
    if getattr(bbox_head, 'num_shared_fcs', 0) == 0 or not fcs:
        return None
    return fcs[-1].out_features


@MODELS.register_module()
class TwoStageDistiller(BaseDistiller):
    """Distil an MMDetection two-stage detector (Faster R-CNN with a
    ``StandardRoIHead`` and a ``Shared2FCBBoxHead``) into another.

    The student trains with its own losses (RPN + RoI head, its own
    proposals and sampler) plus the distillation losses. The values handed
    to the losses keep the classification names, so that ``NDLoss``,
    ``KDLoss``, ``DKDLoss`` and ``HCLLoss`` are used unchanged; in detection
    they mean (``R`` = number of RoIs the student's RoI sampler kept in the
    batch, e.g. 2 images x 512):

    - ``student_embed`` / ``teacher_embed``: (R, D) box feature after the
      last shared FC + ReLU of the box head (D = ``fc_out_channels``,
      1024), for the student's sampled RoIs; the teacher's is computed by
      the teacher's RoI extractor + box head on the student's RoIs. The
      student's goes through the ``student_embed`` connector (projector)
      when one is configured;
    - ``student_logits`` / ``teacher_logits``: (R, K + 1) classification
      scores of the box heads on those RoIs (K foreground classes, last
      column background);
    - ``labels``: (R,) classes assigned to the RoIs by the student's
      assigner, background = K (the labels of the student's own
      classification loss);
    - ``class_centers``: (K + 1, D) teacher centres, background included;
    - ``student_feats`` / ``teacher_feats``: lists of (N, C, H, W) FPN
      levels (P2-P6 for Faster R-CNN FPN), the student's through the
      ``student_feats`` connector (``ReviewKDConnector``).

    ``forward_distill`` also returns ``rois`` (R, 5) for inspection; no loss
    can read it. Only what some loss reads is computed on the teacher side:
    pure ReviewKD runs the teacher's backbone + FPN only.

    Class centres (``ClassCentersHook``, with ``max_iters`` bounding the
    batches): the student's RPN + sampler run without gradient and in eval
    mode (no BN statistics change) on a training batch; the teacher's box
    features of the sampled RoIs are averaged per assigned class.

    Args:
        student (dict | str): the student detector (config dict, config
            path or ``'mmdet::...'`` path).
        teacher (dict | str): the teacher detector, same forms.
        teacher_ckpt (str): teacher checkpoint (e.g. an MMDetection model
            zoo checkpoint), loaded strictly.
        distill_losses (dict[str, dict]): loss name -> loss config.
        connectors (dict[str, dict]): ``student_feats`` (ReviewKD ABF
            fusion) and/or ``student_embed`` (projector, when the box-head
            widths differ).
        Other arguments: see :class:`BaseDistiller`.

    Raises:
        ValueError: at build time, when the student or teacher is not a
            single-box-head two-stage detector, the number of classes
            differs, a box feature is read from a head without shared FCs,
            the box-feature widths differ without (or with a wrongly sized)
            projector, logits are read from a sigmoid classifier, or the
            teacher normalises images differently from the student.
    """

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 **kwargs):
        super().__init__(
            student,
            teacher,
            teacher_ckpt=teacher_ckpt,
            distill_losses=distill_losses,
            connectors=connectors,
            **kwargs)
        needs_embed = bool(self.required_inputs & set(_EMBED_INPUTS)) or \
            self.needs_class_centers
        _, bbox_head = _box_head_parts(self.student, 'student')
        if needs_embed:
            self._check_shared_fcs(bbox_head, 'student')
        self._student_recorders = self._student_hooks()
        if self.has_teacher:
            self._check_compatible(needs_embed)
            self.teacher_recorder = OutputRecorder(
                self.teacher, self._embed_path(self.teacher), 'teacher')

    # ----------------------------------------------------------- set-up
    @staticmethod
    def _check_shared_fcs(bbox_head, side):
        if _embed_width(bbox_head) is None:
            raise ValueError(
                f'{side}.roi_head.bbox_head ({type(bbox_head).__name__}) has '
                f'num_shared_fcs='
                f'{getattr(bbox_head, "num_shared_fcs", None)}: the RoI box '
                'feature read by ND (student_embed / teacher_embed / class '
                'centres) is the output of the last shared FC; use a head '
                'with shared FCs such as Shared2FCBBoxHead')

    @staticmethod
    def _embed_path(model):
        """``{'embed': <last shared FC>}`` when the box head has shared FCs
        (recording is free when nothing reads it), else ``{}``."""
        head = model.roi_head.bbox_head
        if _embed_width(head) is None:
            return {}
        return {'embed': f'roi_head.bbox_head.shared_fcs.'
                         f'{len(head.shared_fcs) - 1}'}

    def _student_hooks(self):
        paths = {'head': 'roi_head.bbox_head'}
        paths['feats'] = 'neck' if getattr(self.student, 'with_neck',
                                           False) else 'backbone'
        paths.update(self._embed_path(self.student))
        outputs = OutputRecorder(self.student, paths, 'student')
        rois = _ArgumentRecorder(
            resolve_module(self.student, 'roi_head.bbox_roi_extractor',
                           'student'), 1, 'rois')
        labels = _ArgumentRecorder(
            resolve_module(self.student, 'roi_head.bbox_head.loss_cls',
                           'student'), 1, 'label')
        return outputs, rois, labels

    def _check_compatible(self, needs_embed):
        _, s_head = _box_head_parts(self.student, 'student')
        _, t_head = _box_head_parts(self.teacher, 'teacher')
        if s_head.num_classes != t_head.num_classes:
            raise ValueError(
                f'teacher has {t_head.num_classes} classes but student has '
                f'{s_head.num_classes} (roi_head.bbox_head.num_classes)')
        if self.required_inputs & {'student_logits', 'teacher_logits'}:
            for side, head in (('student', s_head), ('teacher', t_head)):
                if getattr(head, 'custom_cls_channels', False) or getattr(
                        getattr(head, 'loss_cls', None), 'use_sigmoid',
                        False):
                    raise ValueError(
                        f'{side}.roi_head.bbox_head uses a sigmoid / custom '
                        'classifier; KD / DKD read (K + 1)-way soft-max '
                        'RoI logits')
        self.check_preprocessors()
        if not needs_embed:
            return
        self._check_shared_fcs(t_head, 'teacher')
        s_dim, t_dim = _embed_width(s_head), _embed_width(t_head)
        self.check_embed_widths(s_dim, t_dim, 'RoI box feature',
                                'roi_head.bbox_head.fc_out_channels')

    def expected_centers_shape(self):
        """``(K + 1, D)``: foreground classes + background, teacher box
        feature width."""
        _, t_head = _box_head_parts(self.teacher, 'teacher')
        self._check_shared_fcs(t_head, 'teacher')
        return t_head.num_classes + 1, _embed_width(t_head)

    # ------------------------------------------------------------ student
    def _run_student_loss(self, inputs, data_samples):
        """The student's own ``loss`` with the RoI values recorded."""
        outputs, rois_rec, labels_rec = self._student_recorders
        with outputs.recording() as recorded:
            rois_rec.start(recorded, 'rois')
            labels_rec.start(recorded, 'labels')
            try:
                losses = self.student.loss(inputs, data_samples)
            finally:
                rois_rec.stop()
                labels_rec.stop()
        missing = [k for k in ('rois', 'labels', 'head') if k not in recorded]
        if missing:
            raise RuntimeError(
                f'student.loss did not run {missing} of its RoI head; '
                'TwoStageDistiller expects StandardRoIHead.loss (box RoI '
                'extractor -> box head -> loss_cls)')
        rois = recorded['rois']
        num = rois.shape[0]
        cls_score = recorded['head'][0]
        labels = recorded['labels']
        if cls_score.shape[0] != num or labels.shape[0] != num:
            raise RuntimeError(
                f'recorded {num} RoIs but {cls_score.shape[0]} class scores '
                f'and {labels.shape[0]} labels from the student RoI head')
        values = dict(
            rois=rois.detach(),
            labels=labels.long(),
            student_logits=cls_score,
            student_feats=list(recorded['feats']))
        if 'embed' in recorded:
            # ConvFCBBoxHead applies (an in-place) ReLU after each shared
            # FC; relu is idempotent, so this is right in both cases.
            values['student_embed'] = F.relu(recorded['embed'])
        return losses, values

    # ------------------------------------------------------------ teacher
    @torch.no_grad()
    def teacher_features(self, inputs):
        """The teacher's backbone + FPN levels, or None when no loss reads
        a teacher value."""
        wanted = self.required_inputs
        if 'teacher_feats' not in wanted and \
                not wanted & set(_TEACHER_ROI_INPUTS):
            return None
        return self.teacher.extract_feat(inputs)

    @torch.no_grad()
    def run_teacher(self, feats, rois):
        """Teacher values the losses read, from its FPN levels ``feats``:
        the levels themselves and/or the RoI box feature and logits on the
        given (student's) ``rois``."""
        if feats is None:
            return {}
        values = {}
        if 'teacher_feats' in self.required_inputs:
            values['teacher_feats'] = list(feats)
        if self.required_inputs & set(_TEACHER_ROI_INPUTS):
            values.update(self.teacher_roi_values(feats, rois))
        return values

    @torch.no_grad()
    def teacher_roi_values(self, feats, rois):
        """``teacher_logits`` (R, K + 1) and, when recorded,
        ``teacher_embed`` (R, D) of the teacher's RoI extractor + box head
        on ``rois`` over the teacher's features ``feats``."""
        with self.teacher_recorder.recording() as recorded:
            results = self.teacher.roi_head._bbox_forward(feats, rois)
        values = dict(teacher_logits=results['cls_score'])
        if 'embed' in recorded:
            values['teacher_embed'] = F.relu(recorded['embed'])
        return values

    def teacher_embeddings_for_centers(self, data):
        """Teacher box features (R, D) and assigned labels (R,) of the
        student's sampled RoIs of one training batch (student RPN + sampler
        in eval mode, without gradient; the student is left unchanged)."""
        data = self.data_preprocessor(data, True)
        with self.frozen_student():
            _, values = self._run_student_loss(data['inputs'],
                                               data['data_samples'])
            feats = self.teacher.extract_feat(data['inputs'])
            teacher = self.teacher_roi_values(feats, values['rois'])
        return teacher['teacher_embed'], values['labels']

    # ------------------------------------------------------------ forward
    def forward_distill(self, inputs, data_samples):
        # Teacher backbone + FPN first: its transient activations are freed
        # before the student's graph is built. Its RoI head needs the
        # student's sampled RoIs, so it runs after the student.
        teacher_feats = self.teacher_features(inputs)
        student_losses, values = self._run_student_loss(inputs, data_samples)
        values.update(self.run_teacher(teacher_feats, values['rois']))
        return student_losses, self.apply_connectors(values)

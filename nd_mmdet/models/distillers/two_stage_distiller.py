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

Cascade R-CNN (``CascadeRoIHead``: one extractor and box head per stage,
each stage sampling the boxes the previous one refined): the same hooks sit
on every stage's modules (``bbox_roi_extractor.<i>``, ``bbox_head.<i>``);
the teacher's stage-``i`` box head runs on the student's stage-``i`` RoIs.
The logits of the stages in ``cascade_stages`` (default: all) are
concatenated in stage order for KD; ND's rows (embeddings, labels, class
centres) come from ONE stage, ``nd_stage`` (default 0): each stage's box
head is its own feature space, so one set of centres cannot serve them all,
and stage 0 is the setting of the paper's Faster R-CNN recipe (RPN
proposals assigned at IoU 0.5, 512 sampled RoIs with 25% foreground), where
the classes, background included, are best balanced.
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
_LOGIT_INPUTS = ('student_logits', 'teacher_logits')


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


def _box_head_parts(model, side, stage=None):
    """``(roi_head, bbox_head)`` of a two-stage detector (the box head of
    ``stage`` for a cascade), or a ValueError naming what is missing."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or not hasattr(roi_head, 'bbox_roi_extractor'):
        raise ValueError(
            f'{side}: TwoStageDistiller needs a two-stage detector whose '
            'roi_head has a bbox_roi_extractor and a bbox_head (e.g. '
            f'FasterRCNN with StandardRoIHead), got {type(model).__name__} '
            f'with roi_head {type(roi_head).__name__}{NECK_ALTERNATIVE}')
    bbox_head = getattr(roi_head, 'bbox_head', None)
    if isinstance(bbox_head, nn.ModuleList) and stage is not None and \
            0 <= stage < len(bbox_head):
        bbox_head = bbox_head[stage]
    if not isinstance(bbox_head, nn.Module) or \
            isinstance(bbox_head, nn.ModuleList) or \
            not hasattr(bbox_head, 'num_classes'):
        raise ValueError(
            f'{side}.roi_head.bbox_head must be a box head with '
            f'num_classes (one per stage for Cascade R-CNN), got '
            f'{type(bbox_head).__name__}{NECK_ALTERNATIVE}')
    return roi_head, bbox_head


def num_stages(model):
    """Box-head stages of a two-stage detector's RoI head (1 unless it is a
    cascade)."""
    heads = getattr(getattr(model, 'roi_head', None), 'bbox_head', None)
    return len(heads) if isinstance(heads, nn.ModuleList) else 1


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
        cascade_stages (list[int], optional): Cascade R-CNN only: the
            stages whose RoIs give the logits (concatenated in stage order);
            default every stage.
        nd_stage (int): Cascade R-CNN only: the stage whose RoIs give the
            embeddings, labels and class centres (default 0, see the module
            doc). When the logit rows are not exactly that stage's, a loss
            reading logits together with labels or embeddings (DKD) is
            refused.
        Other arguments: see :class:`BaseDistiller`.

    Raises:
        ValueError: at build time, when the student or teacher is not a
            two-stage detector with box heads, the number of classes
            differs, a box feature is read from a head without shared FCs,
            the box-feature widths differ without (or with a wrongly sized)
            projector, logits are read from a sigmoid classifier, or the
            teacher normalises images differently from the student.
    """

    #: RoIs per forward of the teacher's RoI head (see
    #: :meth:`_teacher_box_head`).
    teacher_roi_chunk = 256

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 cascade_stages=None,
                 nd_stage=0,
                 **kwargs):
        super().__init__(
            student,
            teacher,
            teacher_ckpt=teacher_ckpt,
            distill_losses=distill_losses,
            connectors=connectors,
            **kwargs)
        self._set_stages(cascade_stages, nd_stage)
        needs_embed = bool(self.required_inputs & set(_EMBED_INPUTS)) or \
            self.needs_class_centers
        _, bbox_head = _box_head_parts(self.student, 'student',
                                       self.nd_stage)
        if needs_embed:
            self._check_shared_fcs(bbox_head, 'student')
        self._student_recorders = self._student_hooks()
        if self.has_teacher:
            self._check_compatible(needs_embed)
            self.teacher_recorder = OutputRecorder(
                self.teacher, self._embed_path(self.teacher, self.nd_stage),
                'teacher')

    # ----------------------------------------------------------- set-up
    def _set_stages(self, cascade_stages, nd_stage):
        """``kd_stages`` (logit rows) and ``nd_stage`` (ND rows): ``[None]``
        and None for a single box head."""
        _box_head_parts(self.student, 'student', 0)
        stages = num_stages(self.student)
        if stages == 1:
            if cascade_stages is not None or nd_stage != 0:
                raise ValueError(
                    'cascade_stages / nd_stage are for Cascade R-CNN; the '
                    'student has one box head')
            self.kd_stages, self.nd_stage = [None], None
            return
        kd_stages = list(range(stages)) if cascade_stages is None else \
            list(cascade_stages)
        for name, given, values in (
                ('cascade_stages', cascade_stages, kd_stages),
                ('nd_stage', nd_stage, [nd_stage])):
            if not values or any(not isinstance(v, int) or not
                                 0 <= v < stages for v in values):
                raise ValueError(
                    f'{name} must be stage indices in [0, {stages}) (the '
                    f'student has {stages} box-head stages), got {given!r}')
        self.kd_stages, self.nd_stage = kd_stages, nd_stage
        if kd_stages != [nd_stage]:
            for name, inputs in self.loss_inputs.items():
                if set(inputs) & set(_LOGIT_INPUTS) and \
                        set(inputs) & {'labels', *_EMBED_INPUTS}:
                    raise ValueError(
                        f'distill_losses.{name} reads {sorted(inputs)}: the '
                        f'logits come from stages {kd_stages}, the labels '
                        f'and embeddings from stage {nd_stage}; set '
                        f'cascade_stages=[{nd_stage}]')

    @property
    def stages(self):
        """Every stage whose values are recorded."""
        return sorted(set(self.kd_stages) | {self.nd_stage},
                      key=lambda s: -1 if s is None else s)

    @staticmethod
    def _path(name, stage):
        """Module path of the RoI head's ``name`` of ``stage``."""
        return f'roi_head.{name}' if stage is None else \
            f'roi_head.{name}.{stage}'

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

    @classmethod
    def _embed_path(cls, model, stage):
        """``{'embed': <last shared FC of stage>}`` when that box head has
        shared FCs (recording is free when nothing reads it), else ``{}``."""
        _, head = _box_head_parts(model, 'model', stage)
        if _embed_width(head) is None:
            return {}
        return {'embed': f'{cls._path("bbox_head", stage)}.shared_fcs.'
                         f'{len(head.shared_fcs) - 1}'}

    def _student_hooks(self):
        """The student's recorders: outputs (``feats``, ``head<tag>``,
        ``embed``) and, per stage, the RoI and label argument recorders
        (names ``rois<tag>`` / ``labels<tag>``, tag = the stage or '')."""
        paths = {'feats': 'neck' if getattr(self.student, 'with_neck',
                                            False) else 'backbone'}
        arguments = []
        for stage in self.stages:
            tag = '' if stage is None else str(stage)
            paths[f'head{tag}'] = self._path('bbox_head', stage)
            rois = _ArgumentRecorder(
                resolve_module(self.student,
                               self._path('bbox_roi_extractor', stage),
                               'student'), 1, 'rois')
            labels = _ArgumentRecorder(
                resolve_module(self.student,
                               f'{self._path("bbox_head", stage)}.loss_cls',
                               'student'), 1, 'label')
            arguments += [(rois, f'rois{tag}'), (labels, f'labels{tag}')]
        paths.update(self._embed_path(self.student, self.nd_stage))
        return OutputRecorder(self.student, paths, 'student'), arguments

    def _check_compatible(self, needs_embed):
        if num_stages(self.teacher) != num_stages(self.student):
            raise ValueError(
                f'teacher has {num_stages(self.teacher)} box-head stages but '
                f'the student has {num_stages(self.student)}: the teacher\'s '
                'stage-i head runs on the student\'s stage-i RoIs')
        reads_logits = self.required_inputs & {'student_logits',
                                               'teacher_logits'}
        for stage in self.stages:
            _, s_head = _box_head_parts(self.student, 'student', stage)
            _, t_head = _box_head_parts(self.teacher, 'teacher', stage)
            if s_head.num_classes != t_head.num_classes:
                raise ValueError(
                    f'teacher has {t_head.num_classes} classes but student '
                    f'has {s_head.num_classes} '
                    '(roi_head.bbox_head.num_classes)')
            if reads_logits and stage in self.kd_stages:
                for side, head in (('student', s_head), ('teacher', t_head)):
                    if getattr(head, 'custom_cls_channels', False) or \
                            getattr(getattr(head, 'loss_cls', None),
                                    'use_sigmoid', False):
                        raise ValueError(
                            f'{side}.roi_head.bbox_head uses a sigmoid / '
                            'custom classifier; KD / DKD read (K + 1)-way '
                            'soft-max RoI logits')
        self.check_preprocessors()
        if not needs_embed:
            return
        _, s_head = _box_head_parts(self.student, 'student', self.nd_stage)
        _, t_head = _box_head_parts(self.teacher, 'teacher', self.nd_stage)
        self._check_shared_fcs(t_head, 'teacher')
        s_dim, t_dim = _embed_width(s_head), _embed_width(t_head)
        self.check_embed_widths(s_dim, t_dim, 'RoI box feature',
                                'roi_head.bbox_head.fc_out_channels')

    def expected_centers_shape(self):
        """``(K + 1, D)``: foreground classes + background, teacher box
        feature width (of ``nd_stage`` for a cascade)."""
        _, t_head = _box_head_parts(self.teacher, 'teacher', self.nd_stage)
        self._check_shared_fcs(t_head, 'teacher')
        return t_head.num_classes + 1, _embed_width(t_head)

    # ------------------------------------------------------------ student
    def _run_student_loss(self, inputs, data_samples):
        """The student's own ``loss`` with the RoI values recorded."""
        outputs, arguments = self._student_recorders
        with outputs.recording() as recorded:
            for recorder, name in arguments:
                recorder.start(recorded, name)
            try:
                losses = self.student.loss(inputs, data_samples)
            finally:
                for recorder, _ in arguments:
                    recorder.stop()
        per_stage = {}
        for stage in self.stages:
            tag = '' if stage is None else str(stage)
            missing = [k for k in ('rois', 'labels', 'head')
                       if f'{k}{tag}' not in recorded]
            if missing:
                raise RuntimeError(
                    f'student.loss did not run {missing} of its RoI head'
                    f'{"" if stage is None else f" (stage {stage})"}; '
                    'TwoStageDistiller expects the box RoI extractor -> box '
                    'head -> loss_cls path of StandardRoIHead / '
                    'CascadeRoIHead')
            rois = recorded[f'rois{tag}']
            cls_score = recorded[f'head{tag}'][0]
            labels = recorded[f'labels{tag}']
            num = rois.shape[0]
            if cls_score.shape[0] != num or labels.shape[0] != num:
                raise RuntimeError(
                    f'recorded {num} RoIs but {cls_score.shape[0]} class '
                    f'scores and {labels.shape[0]} labels from the student '
                    'RoI head')
            per_stage[stage] = (rois.detach(), labels.long(), cls_score)
        nd_rois, nd_labels, nd_scores = per_stage[self.nd_stage]
        losses.update(self.background_shares(nd_labels, nd_scores))
        values = dict(
            rois=nd_rois,
            stage_rois={stage: per_stage[stage][0] for stage in self.stages},
            labels=nd_labels,
            student_logits=torch.cat(
                [per_stage[stage][2] for stage in self.kd_stages]),
            student_feats=list(recorded['feats']))
        if 'embed' in recorded:
            # ConvFCBBoxHead applies (an in-place) ReLU after each shared
            # FC; relu is idempotent, so this is right in both cases.
            values['student_embed'] = F.relu(recorded['embed'])
        return losses, values

    @torch.no_grad()
    def background_shares(self, labels, cls_score):
        """Two logged scalars of the ND stage's sampled RoIs, read by
        ``TrainingHealthHook`` (no ``loss`` in their names: mmengine logs
        them and does not add them to the loss): ``roi_bg_share``, the share
        of RoIs labelled background (label ``K``), and ``roi_pred_bg_share``,
        the share whose arg-max column of the student's ``cls_score``
        ``(R, K + 1)`` is background (absent for a custom classifier)."""
        _, head = _box_head_parts(self.student, 'student', self.nd_stage)
        background, num = head.num_classes, max(labels.numel(), 1)
        shares = dict(roi_bg_share=(labels == background).sum().float() / num)
        if cls_score.dim() == 2 and cls_score.shape[1] == background + 1:
            shares['roi_pred_bg_share'] = \
                (cls_score.argmax(dim=1) == background).sum().float() / num
        return shares

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
    def run_teacher(self, feats, stage_rois):
        """Teacher values the losses read, from its FPN levels ``feats``:
        the levels themselves and/or the RoI box feature and logits on the
        given (student's) RoIs of each stage."""
        if feats is None:
            return {}
        values = {}
        if 'teacher_feats' in self.required_inputs:
            values['teacher_feats'] = list(feats)
        wanted = self.required_inputs & set(_TEACHER_ROI_INPUTS)
        if wanted:
            values.update(self.teacher_roi_values(
                feats, stage_rois, logits='teacher_logits' in wanted,
                embed='teacher_embed' in wanted))
        return values

    @torch.no_grad()
    def _teacher_box_head(self, stage, feats, rois):
        """``(cls_score, recorded embed or None)`` of the teacher's RoI
        extractor + box head of ``stage`` on ``rois``, run on
        :attr:`teacher_roi_chunk` RoIs at a time: it runs while the
        student's graph is alive, and the RoI features of all RoIs at once
        (R x 256 x 7 x 7 floats plus the per-level RoIAlign outputs, ~98 MB
        for 2 x 512 RoIs) were the peak of the distillation step (ratio
        1.27 -> 1.06 in benchmarks/bench_distill_step.py --task det). Every
        RoI is computed on its own, so the values are those of one call
        (bit-identical there, on CPU)."""
        scores, embeds = [], []
        chunk = self.teacher_roi_chunk
        for start in range(0, max(rois.shape[0], 1), chunk):
            part = rois[start:start + chunk]
            with self.teacher_recorder.recording() as recorded:
                if stage is None:
                    results = self.teacher.roi_head._bbox_forward(feats, part)
                else:
                    results = self.teacher.roi_head._bbox_forward(
                        stage, feats, part)
            scores.append(results['cls_score'])
            if 'embed' in recorded:
                embeds.append(recorded['embed'])
            del results, recorded  # this chunk's RoI features
        return torch.cat(scores), torch.cat(embeds) if embeds else None

    @torch.no_grad()
    def teacher_roi_values(self, feats, stage_rois, logits=True, embed=True):
        """``teacher_logits`` (R, K + 1), the ``kd_stages`` concatenated,
        and ``teacher_embed`` (R_nd, D) of ``nd_stage``: the teacher's RoI
        extractor + box head of each stage on that stage's (student's) RoIs
        over the teacher's features ``feats``."""
        scores, values = {}, {}
        stages = sorted(set(self.kd_stages if logits else []) |
                        ({self.nd_stage} if embed else set()),
                        key=lambda s: -1 if s is None else s)
        for stage in stages:
            scores[stage], recorded_embed = self._teacher_box_head(
                stage, feats, stage_rois[stage])
            if stage == self.nd_stage and recorded_embed is not None:
                values['teacher_embed'] = F.relu(recorded_embed)
        if logits:
            values['teacher_logits'] = torch.cat(
                [scores[stage] for stage in self.kd_stages])
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
            teacher = self.teacher_roi_values(feats, values['stage_rois'],
                                              logits=False)
        return teacher['teacher_embed'], values['labels']

    # ------------------------------------------------------------ forward
    def forward_distill(self, inputs, data_samples):
        # Teacher backbone + FPN first: its transient activations are freed
        # before the student's graph is built. Its RoI head needs the
        # student's sampled RoIs, so it runs after the student.
        teacher_feats = self.teacher_features(inputs)
        student_losses, values = self._run_student_loss(inputs, data_samples)
        values.update(self.run_teacher(teacher_feats, values['stage_rois']))
        return student_losses, self.apply_connectors(values)

"""Distillation of MMDetection one-stage dense detectors (RetinaNet, ATSS,
FCOS, GFL): binary KD on the sigmoid class scores, ND on the classification
branch's last feature and ReviewKD (HCL) on the FPN levels, all at the
locations that the STUDENT's own assigner marks positive.

Definition (see ``configs/coco/dense/README.md``):

- an *entry* is one prior (anchor or point) that the student's assigner
  labels with a foreground class (and, with ``background_centre=True``, a
  sampled set of background priors labelled ``K``);
- its *embedding* is the feature of the classification branch at the
  prior's location = output of ``bbox_head.cls_convs[-1]`` (= input of the
  final class-score conv ``retina_cls`` / ``conv_cls`` / ``gfl_cls``) at
  ``(image n, level l, row h, column w)``: D = ``feat_channels`` on every
  level. With ``A`` anchors per location (RetinaNet: 9) the anchors of one
  location share the location's embedding; every positive anchor is one
  entry (one row), so a location with two positive anchors counts twice;
- its *logits* are the K class scores of that prior (the scores the
  student's classification loss receives for it);
- its *label* is the class the student's assigner gives it.

How the positives are found without re-implementing any MMDetection code:
the student's own ``loss`` runs once, unchanged, while hooks record (only
inside a recording):

- pre-hook on ``bbox_head.loss_cls``: the labels (and label weights) the
  student's own classification loss receives; every call is kept (RetinaNet,
  ATSS and GFL call it once per FPN level, FCOS once for all levels);
- pre-hook on the final class-score conv: its input per level (the
  ``cls_convs[-1]`` output, i.e. the embedding map);
- hook on ``bbox_head``: the per-level class scores; hook on ``neck``.

The flattened order of each head family is mapped back onto the per-level
``(N, C, H, W)`` maps (mmdet 3.x sources): RetinaNet (``AnchorHead``),
ATSS (``ATSSHead``, the same flattening) and GFL (``GFLHead``, labels
inside the ``(labels, iou_score)`` target of ``QualityFocalLoss``): one
call per level with ``(N*H*W*A,)`` labels in
``permute(0, 2, 3, 1)`` order, anchor-minor; FCOS (``AnchorFreeHead``): one
call, levels concatenated level-major, each level ``(N*H*W,)`` in
``permute(0, 2, 3, 1)`` order.

The teacher (frozen, eval, no gradient) runs ``extract_feat`` (backbone +
FPN) and its head's classification branch only (``cls_convs`` and, when a
loss reads teacher logits, the final class-score conv) on every level: no
teacher regression branch, assigner or loss.
"""
import torch

from nd_mmdet.registry import MODELS
from .base_distiller import NECK_ALTERNATIVE, BaseDistiller
from .dense_heads import HEAD_ADAPTERS
from .recorder import OutputRecorder, resolve_module
from .two_stage_distiller import _ArgumentRecorder

_TEACHER_HEAD_INPUTS = ('teacher_embed', 'teacher_logits')
_EMBED_INPUTS = ('student_embed', 'teacher_embed')
_LOGIT_INPUTS = ('student_logits', 'teacher_logits')


class _EveryCallRecorder(_ArgumentRecorder):
    """:class:`_ArgumentRecorder` that keeps one argument of EVERY call
    inside a recording, as a list in call order."""

    def _hook(self, module, args, kwargs):
        if self._store is None:
            return None
        if len(args) > self.position:
            value = args[self.position]
        else:
            value = kwargs.get(self.keyword)
        self._store.setdefault(self._name, []).append(value)
        return None


def dense_head(model, side):
    """``(bbox_head, adapter)`` of a supported one-stage detector (see
    :mod:`.dense_heads`), or a ValueError naming the supported heads."""
    head = getattr(model, 'bbox_head', None)
    if type(head) not in HEAD_ADAPTERS or hasattr(model, 'roi_head'):
        raise ValueError(
            f'{side}: DenseDistiller supports single-stage detectors whose '
            f'bbox_head is exactly one of '
            f'{[t.__name__ for t in HEAD_ADAPTERS]}, got '
            f'{type(model).__name__} with bbox_head '
            f'{type(head).__name__}{NECK_ALTERNATIVE}')
    return head, HEAD_ADAPTERS[type(head)]


def _strides(head):
    return [tuple(s) if isinstance(s, (tuple, list)) else (s, s)
            for s in head.prior_generator.strides]


@MODELS.register_module()
class DenseDistiller(BaseDistiller):
    """Distil an MMDetection one-stage dense detector (RetinaNet, ATSS,
    FCOS or GFL) into another of the same head type.

    Values handed to the losses (``P`` = number of entries in the batch:
    the student's positive priors, plus sampled background priors when
    ``background_centre=True``):

    - ``student_embed`` / ``teacher_embed``: (P, D) classification-branch
      feature (``cls_convs[-1]`` output) at each entry's location, the
      teacher's from its own head on its own FPN levels. The student's goes
      through the ``student_embed`` connector (``EmbeddingProjector``,
      when the head widths ``feat_channels`` differ: one projector serves
      every level, since the width is the same on all levels; or
      ``PerLevelProjector`` for one projector per FPN level);
    - ``student_logits`` / ``teacher_logits``: (P, K) sigmoid class scores
      of each entry's prior (for ``BinaryKDLoss``);
    - ``labels``: (P,) the student's assigned classes (background = K);
    - ``class_centers``: (K, D), or (K + 1, D) with ``background_centre``;
    - ``student_feats`` / ``teacher_feats``: the FPN levels (HCL,
      ``ReviewKDConnector`` on ``student_feats``).

    ``forward_distill`` also returns ``positions`` (P, 5): image, level,
    row, column, anchor of each entry (not readable by losses); with
    ``kd_at_negatives`` the logits have more rows than ``labels`` (the
    sampled negatives too), whose positions are ``logit_positions``.

    Class centres (``ClassCentersHook``, ``max_iters`` bounding the
    batches): the student's assignment is run without gradient and in eval
    mode (no BN statistics change); the teacher's embeddings at the
    entries are averaged per assigned class.

    Args:
        student (dict | str): the student detector.
        teacher (dict | str): the teacher detector (same head type, number
            of classes, strides and priors per location).
        teacher_ckpt (str): teacher checkpoint, loaded strictly.
        distill_losses (dict[str, dict]): loss name -> loss config.
        connectors (dict[str, dict]): ``student_embed`` and/or
            ``student_feats``.
        background_centre (bool): also distil at background priors, labelled
            ``K``, with a background class centre (row ``K``). Default
            False: only the positives enter the losses.
        kd_at_negatives (bool): the logits (``student_logits`` /
            ``teacher_logits``, i.e. ``BinaryKDLoss``) also get sampled
            background priors, while the embeddings, labels and class
            centres (ND) stay at the positives. Default False. Exclusive
            with ``background_centre``; a loss that reads logits together
            with labels or embeddings is refused (their rows would differ).
        max_negatives_per_image (int): with ``background_centre`` or
            ``kd_at_negatives``, at most
            this many background priors per image are drawn at random
            (uniformly over the levels' priors whose label is background
            and whose classification weight is non-zero, i.e. not ignored)
            per iteration; dense heads have ~10^4-10^5 negatives per image.
        Other arguments: see :class:`BaseDistiller`.

    Raises:
        ValueError: at build time, for an unsupported head (anything other
            than ``RetinaHead``, ``ATSSHead``, ``FCOSHead``, ``GFLHead``),
            teacher and student heads that differ in type, classes, strides
            or priors per location, logits read from a soft-max classifier,
            embedding widths that differ without a (correctly sized)
            projector, or different image normalisation.
    """

    SUPPLIES_LEVELS = True

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 background_centre=False,
                 kd_at_negatives=False,
                 max_negatives_per_image=64,
                 **kwargs):
        super().__init__(
            student,
            teacher,
            teacher_ckpt=teacher_ckpt,
            distill_losses=distill_losses,
            connectors=connectors,
            **kwargs)
        if not isinstance(max_negatives_per_image, int) or \
                isinstance(max_negatives_per_image, bool) or \
                max_negatives_per_image < 1:
            raise ValueError('max_negatives_per_image must be a positive '
                             f'int, got {max_negatives_per_image!r}')
        self.background_centre = bool(background_centre)
        self.kd_at_negatives = bool(kd_at_negatives)
        self.max_negatives_per_image = max_negatives_per_image
        if self.kd_at_negatives:
            self._check_kd_at_negatives()
        head, self.adapter = dense_head(self.student, 'student')
        self.num_classes = head.num_classes
        if self.required_inputs & set(_LOGIT_INPUTS):
            self._check_sigmoid(head, 'student')
        self._student_recorders = self._student_hooks()
        self._check_level_connectors(head)
        if self.has_teacher:
            self._check_compatible()

    # ----------------------------------------------------------- set-up
    @staticmethod
    def _check_sigmoid(head, side):
        if not getattr(head, 'use_sigmoid_cls', False) or \
                head.cls_out_channels != head.num_classes:
            raise ValueError(
                f'{side}.bbox_head ({type(head).__name__}) has a soft-max '
                'classifier; BinaryKDLoss (student_logits / teacher_logits) '
                'reads K independent sigmoid class scores')

    def _student_hooks(self):
        paths = {'head': 'bbox_head'}
        paths['feats'] = 'neck' if getattr(self.student, 'with_neck',
                                           False) else 'backbone'
        outputs = OutputRecorder(self.student, paths, 'student')
        loss_cls = resolve_module(self.student, 'bbox_head.loss_cls',
                                  'student')
        labels = _EveryCallRecorder(loss_cls, 1, 'target')
        weights = _EveryCallRecorder(loss_cls, 2, 'weight')
        # the classifier's input on every level, in call (= level) order
        embeds = [_EveryCallRecorder(resolve_module(self.student, path,
                                                    'student'), 0, 'input')
                  for path in self.adapter.classifier_paths(
                      self.student.bbox_head)]
        return outputs, labels, weights, embeds

    def _check_kd_at_negatives(self):
        if self.background_centre:
            raise ValueError(
                'kd_at_negatives=True and background_centre=True: choose '
                'one (background_centre already puts the sampled negatives '
                'in every input)')
        for name, inputs in self.loss_inputs.items():
            if set(inputs) & set(_LOGIT_INPUTS) and \
                    set(inputs) & {'labels', *_EMBED_INPUTS}:
                raise ValueError(
                    f'distill_losses.{name} reads {sorted(inputs)}: with '
                    'kd_at_negatives the logits have more rows (the sampled '
                    'negatives) than the labels and embeddings')

    def _check_level_connectors(self, head):
        levels = head.prior_generator.num_levels
        for name, connector in self.connectors.items():
            if getattr(connector, 'needs_levels', False) and \
                    connector.num_levels != levels:
                raise ValueError(
                    f'connectors.{name} has num_levels='
                    f'{connector.num_levels} but the student head has '
                    f'{levels} FPN levels')

    def _check_compatible(self):
        s_head, _ = dense_head(self.student, 'student')
        t_head, _ = dense_head(self.teacher, 'teacher')
        if type(s_head) is not type(t_head):
            raise ValueError(
                f'teacher bbox_head is {type(t_head).__name__} but the '
                f"student's is {type(s_head).__name__}: DenseDistiller "
                'matches priors one to one, so both must be the same head')
        if s_head.num_classes != t_head.num_classes:
            raise ValueError(
                f'teacher has {t_head.num_classes} classes but student has '
                f'{s_head.num_classes} (bbox_head.num_classes)')
        if _strides(s_head) != _strides(t_head):
            raise ValueError(
                f'teacher FPN strides {_strides(t_head)} differ from the '
                f"student's {_strides(s_head)} (bbox_head.prior_generator)")
        if s_head.num_base_priors != t_head.num_base_priors:
            raise ValueError(
                f'teacher has {t_head.num_base_priors} priors per location '
                f'but student has {s_head.num_base_priors} (anchor_generator)')
        if self.required_inputs & set(_LOGIT_INPUTS):
            self._check_sigmoid(t_head, 'teacher')
        # The teacher sees the student's preprocessed images.
        self.check_preprocessors()
        s_dim = self.adapter.embed_width(s_head)
        t_dim = self.adapter.embed_width(t_head)
        if 'student_embed' in self.connectors or \
                self.required_inputs & set(_EMBED_INPUTS) or \
                self.needs_class_centers:
            self.check_embed_widths(s_dim, t_dim, 'classification feature',
                                    'bbox_head.feat_channels')

    def expected_centers_shape(self):
        """``(K, D)``, or ``(K + 1, D)`` with ``background_centre``; D is
        the teacher's classification-feature width."""
        t_head, _ = dense_head(self.teacher, 'teacher')
        return (t_head.num_classes + int(self.background_centre),
                self.adapter.embed_width(t_head))

    # ------------------------------------------------------------ entries
    def _level_targets(self, recorded, shapes):
        """Per-level ``(labels, weights)`` of the flattened priors (each
        ``(N*H*W*A,)``, weights None when the loss got none), from what
        ``loss_cls`` received, in the head family's order."""
        labels = recorded.get('labels', [])
        weights = recorded.get('weights', [])
        labels = [lab[0] if isinstance(lab, (tuple, list)) else lab
                  for lab in labels]  # GFL: (labels, iou score) target
        sizes = [n * h * w * a for n, h, w, a in shapes]
        if self.adapter.layout == 'concat':
            if len(labels) != 1:
                raise RuntimeError(
                    f'student bbox_head.loss_cls was called {len(labels)} '
                    'times; the concatenated-levels layout expects one call')
            flat = labels[0].reshape(-1)
            if flat.numel() != sum(sizes):
                raise RuntimeError(
                    f'loss_cls received {flat.numel()} labels, the levels '
                    f'have {sum(sizes)} priors ({shapes})')
            labels = list(flat.split(sizes))
            weights = [None] * len(sizes) if weights[0] is None else list(
                weights[0].reshape(flat.numel(), -1).split(sizes))
        else:
            if len(labels) != len(sizes):
                raise RuntimeError(
                    f'student bbox_head.loss_cls was called {len(labels)} '
                    f'times for {len(sizes)} FPN levels')
            labels = [lab.reshape(-1) for lab in labels]
            for lab, size in zip(labels, sizes):
                if lab.numel() != size:
                    raise RuntimeError(
                        f'loss_cls received {lab.numel()} labels on a level '
                        f'with {size} priors ({shapes})')
            weights = [None if w is None else w.reshape(lab.numel(), -1)
                       for w, lab in zip(weights, labels)]
        return labels, weights

    def _select_entries(self, labels, weights, shapes, with_negatives):
        """``(level, flat index)`` of the entries, level-major: every
        positive prior, plus (``with_negatives``) at most
        ``max_negatives_per_image`` random background priors per image."""
        K = self.num_classes
        levels, indices, neg_levels, neg_indices, neg_images = [], [], [], \
            [], []
        for lvl, (lab, w, (n, h, wd, a)) in enumerate(
                zip(labels, weights, shapes)):
            pos = ((lab >= 0) & (lab < K)).nonzero().squeeze(1)
            levels.append(torch.full_like(pos, lvl))
            indices.append(pos)
            if with_negatives:
                neg = lab == K
                if w is not None:
                    neg &= w.amax(dim=1) > 0
                neg = neg.nonzero().squeeze(1)
                neg_levels.append(torch.full_like(neg, lvl))
                neg_indices.append(neg)
                neg_images.append(neg // (h * wd * a))
        level, index = torch.cat(levels), torch.cat(indices)
        if with_negatives:
            n_lv, n_idx, n_img = (torch.cat(neg_levels),
                                  torch.cat(neg_indices),
                                  torch.cat(neg_images))
            keep = []
            # The distiller's own stream: sampling negatives does not move
            # the student's (nd_mmdet.utils.rng).
            with self.distill_stream(n_img.device):
                for img in range(shapes[0][0]):
                    mine = (n_img == img).nonzero().squeeze(1)
                    perm = torch.randperm(mine.numel(), device=mine.device)
                    keep.append(mine[perm[:self.max_negatives_per_image]])
            keep = torch.cat(keep)
            level = torch.cat([level, n_lv[keep]])
            index = torch.cat([index, n_idx[keep]])
            order = torch.sort(level * (index.max() + 1 if index.numel()
                                        else 1) + index).indices
            level, index = level[order], index[order]
        return level, index

    @staticmethod
    def gather(maps, level, index, per_prior, num_priors):
        """Rows of per-level ``(N, C, H, W)`` maps at the entries: the
        location of flat prior ``index`` (``index // A``) when
        ``per_prior`` is False (embeddings), else the prior's own
        ``C / A`` channels (class scores of ``A`` anchors)."""
        rows = []
        for lvl, fmap in enumerate(maps):
            idx = index[level == lvl]
            if per_prior:
                flat = fmap.permute(0, 2, 3, 1).reshape(
                    -1, fmap.shape[1] // num_priors)
                rows.append(flat[idx])
            else:
                flat = fmap.permute(0, 2, 3, 1).reshape(-1, fmap.shape[1])
                rows.append(flat[idx // num_priors])
        return torch.cat(rows)

    # ------------------------------------------------------------ student
    def _run_student_loss(self, inputs, data_samples, for_centres=False):
        """The student's own ``loss`` with the entries' values recorded;
        ``for_centres``: only the ND rows are wanted (no negatives are
        sampled for ``kd_at_negatives``' logits, whose rows are dropped)."""
        outputs, labels_rec, weights_rec, embeds_rec = \
            self._student_recorders
        with outputs.recording() as recorded:
            recorders = [labels_rec, weights_rec, *embeds_rec]
            names = ['labels', 'weights'] + ['embeds'] * len(embeds_rec)
            for recorder, name in zip(recorders, names):
                recorder.start(recorded, name)
            try:
                losses = self.student.loss(inputs, data_samples)
            finally:
                for recorder in recorders:
                    recorder.stop()
        missing = [k for k in ('labels', 'embeds', 'head') if k not in
                   recorded]
        if missing:
            raise RuntimeError(
                f'student.loss did not run {missing} of its bbox_head; '
                'DenseDistiller expects the head forward -> loss_cls path '
                'of mmdet single-stage detectors')
        head = self.student.bbox_head
        num_priors = head.num_base_priors
        cls_scores = list(recorded['head'][0])
        embeds = recorded['embeds']
        if len(embeds) != len(cls_scores):
            raise RuntimeError(
                f'recorded {len(embeds)} classification features for '
                f'{len(cls_scores)} levels')
        shapes = [(s.shape[0], s.shape[2], s.shape[3], num_priors)
                  for s in cls_scores]
        labels, weights = self._level_targets(recorded, shapes)
        with_negatives = self.background_centre or (
            self.kd_at_negatives and not for_centres)
        level, index = self._select_entries(labels, weights, shapes,
                                            with_negatives)
        entry_labels = torch.cat(
            [lab[index[level == lvl]] for lvl, lab in enumerate(labels)])
        # ND's rows (embeddings, labels): all entries, or with
        # kd_at_negatives the positives only (the logits keep every entry)
        nd_level, nd_index = level, index
        if self.kd_at_negatives:
            positive = entry_labels < self.num_classes
            nd_level, nd_index = level[positive], index[positive]
            entry_labels = entry_labels[positive]
        values = dict(
            labels=entry_labels.long(),
            positions=self._positions(nd_level, nd_index, shapes),
            student_feats=list(recorded['feats']),
            student_embed=self.gather(embeds, nd_level, nd_index, False,
                                      num_priors),
            student_logits=self.gather(cls_scores, level, index, True,
                                       num_priors),
            _entries=(level, index, num_priors),
            _nd_entries=(nd_level, nd_index, num_priors))
        if self.kd_at_negatives:
            values['logit_positions'] = self._positions(level, index, shapes)
        return losses, values

    @staticmethod
    def _positions(level, index, shapes):
        """(P, 5) image, level, row, column, anchor of each entry."""
        hwa = torch.tensor([h * w * a for _, h, w, a in shapes],
                           device=index.device)[level]
        wa = torch.tensor([w * a for _, _, w, a in shapes],
                          device=index.device)[level]
        a = torch.tensor([a for *_, a in shapes], device=index.device)[level]
        img, rem = index // hwa, index % hwa
        return torch.stack(
            [img, level, rem // wa, (rem % wa) // a, rem % a], dim=1)

    # ------------------------------------------------------------ teacher
    @torch.no_grad()
    def teacher_maps(self, inputs, logits=None, embeds=None):
        """Teacher FPN levels and, as asked (default: what the losses
        read), its per-level classification feature / class-score maps
        (its head's classification branch only)."""
        wanted = self.required_inputs
        logits = 'teacher_logits' in wanted if logits is None else logits
        embeds = 'teacher_embed' in wanted if embeds is None else embeds
        if not (logits or embeds or 'teacher_feats' in wanted):
            return None
        feats = self.teacher.extract_feat(inputs)
        out = dict(feats=list(feats))
        if logits or embeds:
            head, adapter = dense_head(self.teacher, 'teacher')
            cls_feats, scores = [], []
            for level, x in enumerate(feats):
                x = adapter.cls_branch(head, level, x)
                cls_feats.append(x)
                if logits:
                    scores.append(adapter.class_scores(head, level, x))
            out['embeds'] = cls_feats
            if logits:
                out['logits'] = scores
        return out

    def run_teacher(self, maps, entries, nd_entries):
        """The teacher's rows: logits at ``entries``, embeddings at
        ``nd_entries`` (each ``(level, index, num_priors)``)."""
        if maps is None:
            return {}
        values = {}
        if 'teacher_feats' in self.required_inputs:
            values['teacher_feats'] = maps['feats']
        if 'embeds' in maps:
            level, index, num_priors = nd_entries
            values['teacher_embed'] = self.gather(maps['embeds'], level,
                                                  index, False, num_priors)
        if 'logits' in maps:
            level, index, num_priors = entries
            values['teacher_logits'] = self.gather(maps['logits'], level,
                                                   index, True, num_priors)
        return values

    def teacher_embeddings_for_centers(self, data):
        """Teacher classification features (P, D) and assigned labels (P,)
        at the student's entries of one training batch (student assignment
        in eval mode, without gradient; the student is left unchanged)."""
        data = self.data_preprocessor(data, True)
        with self.frozen_student():
            _, values = self._run_student_loss(
                data['inputs'], data['data_samples'], for_centres=True)
            maps = self.teacher_maps(data['inputs'], logits=False,
                                     embeds=True)
            level, index, num_priors = values['_nd_entries']
            embeds = self.gather(maps['embeds'], level, index, False,
                                 num_priors)
        return embeds, values['labels']

    # ------------------------------------------------------------ forward
    def forward_distill(self, inputs, data_samples):
        # Teacher first: its activations are freed before the student's
        # graph is built; only the gather needs the student's assignment.
        maps = self.teacher_maps(inputs)
        student_losses, values = self._run_student_loss(inputs, data_samples)
        values.update(self.run_teacher(maps, values.pop('_entries'),
                                       values.pop('_nd_entries')))
        return student_losses, self.apply_connectors(values)

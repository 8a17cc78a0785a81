"""Distillation of MMPretrain image classifiers (KD/DKD/DIST/ReviewKD +ND)."""
import torch

from nd_mmdet.registry import MODELS
from .base_distiller import BaseDistiller
from .recorder import OutputRecorder

#: Components of an ImageClassifier in forward order; the teacher runs up to
#: the deepest one that a recorded path lies in.
_CLASSIFIER_STAGES = ('backbone', 'neck', 'head')


def _as_embedding(output):
    """Neck output (tuple of (N, D) or (N, D, 1, 1)) -> (N, D)."""
    if isinstance(output, (tuple, list)):
        output = output[-1]
    return output.flatten(1)


def _as_tensor(output):
    return output[-1] if isinstance(output, (tuple, list)) else output


def _as_feature_maps(output):
    """A recorded output -> list of (N, C, H, W) maps: a tuple output gives
    one map per element; a pooled (N, C) output becomes (N, C, 1, 1)."""
    outputs = output if isinstance(output, (tuple, list)) else [output]
    return [o if o.dim() == 4 else o.reshape(*o.shape[:2], 1, 1)
            for o in outputs]


@MODELS.register_module()
class ClassificationDistiller(BaseDistiller):
    """Distil an MMPretrain ``ImageClassifier`` teacher into a student.

    Values handed to the losses (``forward`` parameter names):

    - ``student_logits`` / ``teacher_logits``: (N, C) head outputs;
    - ``student_embed`` / ``teacher_embed``: (N, D) penultimate embeddings
      (neck output after global pooling); ``student_embed`` goes through the
      ``student_embed`` connector (projector) when one is configured;
    - ``student_feats`` / ``teacher_feats``: lists of (N, C_i, H_i, W_i)
      feature maps recorded at ``*_paths['feats']`` (ReviewKD; a tuple
      output adds all its maps, a pooled (N, C) output adds an (N, C, 1, 1)
      map), the student's through the ``student_feats`` connector;
    - ``labels``: (N,) ground-truth classes; ``class_centers``: (K, D).

    Args:
        student_paths / teacher_paths (dict): module paths recorded for
            ``embed`` (default ``'neck'``), ``logits`` (default ``'head'``)
            and ``feats`` (list of paths, needed by feature losses).
        Other arguments: see :class:`BaseDistiller`.
    """

    DEFAULT_PATHS = dict(embed='neck', logits='head')

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 student_paths=None,
                 teacher_paths=None,
                 **kwargs):
        super().__init__(
            student,
            teacher,
            teacher_ckpt=teacher_ckpt,
            distill_losses=distill_losses,
            connectors=connectors,
            **kwargs)
        self.student_paths = self._paths_read(student_paths, 'student')
        self.student_recorder = OutputRecorder(
            self.student, self._flat(self.student_paths), 'student')
        self.teacher_paths = self._paths_read(teacher_paths, 'teacher')
        if self.has_teacher:
            self.teacher_recorder = OutputRecorder(
                self.teacher, self._flat(self.teacher_paths), 'teacher')
            self._check_compatible()

    # ----------------------------------------------------------- set-up
    def _paths_read(self, paths, side):
        """The recorded paths of one side that some loss (or the centres
        pre-pass, for the teacher's embed) reads."""
        paths = {**self.DEFAULT_PATHS, **(paths or {})}
        wanted = {name.split('_', 1)[1] for name in self.required_inputs
                  if name.startswith(side + '_')}
        if side == 'teacher' and self.needs_class_centers:
            wanted.add('embed')
        if 'feats' in wanted and not paths.get('feats'):
            raise ValueError(
                f'a loss reads {side}_feats but {side}_paths has no "feats" '
                'list of module paths (e.g. backbone stages)')
        return {k: v for k, v in paths.items() if k in wanted}

    @staticmethod
    def _flat(paths):
        flat = {}
        for name, path in paths.items():
            if isinstance(path, (list, tuple)):
                flat.update({f'{name}.{i}': p for i, p in enumerate(path)})
            else:
                flat[name] = path
        return flat

    @staticmethod
    def _head_attr(model, attr):
        return getattr(getattr(model, 'head', None), attr, None)

    def _check_compatible(self):
        s_classes = self._head_attr(self.student, 'num_classes')
        t_classes = self._head_attr(self.teacher, 'num_classes')
        if s_classes and t_classes and s_classes != t_classes:
            raise ValueError(f'teacher has {t_classes} classes but student '
                             f'has {s_classes} (head.num_classes)')
        self.check_preprocessors()
        needs_embed = {'student_embed', 'teacher_embed'} <= \
            self.required_inputs
        if not needs_embed:
            return
        s_dim = self._head_attr(self.student, 'in_channels')
        t_dim = self._head_attr(self.teacher, 'in_channels')
        self.check_embed_widths(s_dim, t_dim, 'embedding',
                                'head.in_channels')

    def expected_centers_shape(self):
        num_classes = self._head_attr(self.teacher, 'num_classes')
        dim = self._head_attr(self.teacher, 'in_channels')
        if num_classes is None or dim is None:
            raise ValueError('teacher head has no num_classes / in_channels; '
                             'cannot check class centres')
        return num_classes, dim

    # ------------------------------------------------------------ teacher
    def _teacher_depth(self):
        """Deepest classifier component some teacher path lies in."""
        tops = {p.split('.')[0]
                for p in self._flat(self.teacher_paths).values()}
        depth = max((_CLASSIFIER_STAGES.index(t) for t in tops
                     if t in _CLASSIFIER_STAGES), default=-1)
        if any(t not in _CLASSIFIER_STAGES for t in tops):
            depth = len(_CLASSIFIER_STAGES) - 1
        return depth

    @torch.no_grad()
    def run_teacher(self, inputs):
        """Run only the teacher components the losses read; return the
        recorded outputs."""
        teacher = self.teacher  # a clear error when built student-only
        depth = self._teacher_depth()
        with self.teacher_recorder.recording() as out:
            if depth == 0:
                teacher.backbone(inputs)
            elif depth == 1:
                teacher.extract_feat(inputs)
            elif depth == 2:
                teacher(inputs, mode='tensor')
        return out

    def teacher_embeddings_for_centers(self, data):
        teacher = self.teacher
        data = self.data_preprocessor(data, False)
        with torch.no_grad(), self.teacher_recorder.recording() as out:
            teacher.extract_feat(data['inputs'])
        return _as_embedding(out['embed']), self._labels(data['data_samples'])

    # ------------------------------------------------------------ forward
    @staticmethod
    def _labels(data_samples):
        return torch.cat([ds.gt_label.view(-1) for ds in data_samples])

    def _collect(self, side, recorded):
        values = {}
        if 'embed' in recorded:
            values[f'{side}_embed'] = _as_embedding(recorded['embed'])
        if 'logits' in recorded:
            values[f'{side}_logits'] = _as_tensor(recorded['logits'])
        feats = sorted((k for k in recorded if k.startswith('feats.')),
                       key=lambda k: int(k.split('.')[1]))
        if feats:
            values[f'{side}_feats'] = [
                fmap for k in feats for fmap in _as_feature_maps(recorded[k])
            ]
        return values

    def forward_distill(self, inputs, data_samples):
        # Teacher first: its activations are freed before the student's
        # graph is built, so the step's peak memory is the student's own.
        values = self._collect('teacher', self.run_teacher(inputs))
        with self.student_recorder.recording() as recorded:
            student_losses = self.student.loss(inputs, data_samples)
        # MMPretrain names its cross-entropy 'loss', the key mmengine uses
        # for the total it logs: rename it so the logged 'loss' is the total.
        student_losses = {('loss_cls' if k == 'loss' else k): v
                          for k, v in student_losses.items()}
        values.update(self._collect('student', recorded))
        if 'labels' in self.required_inputs:
            values['labels'] = self._labels(data_samples).to(inputs.device)
        return student_losses, self.apply_connectors(values)

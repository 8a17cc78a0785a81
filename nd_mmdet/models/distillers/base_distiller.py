"""Shared teacher handling and loss dispatch for every distiller.

The teacher is

- frozen: ``requires_grad=False`` on every parameter, run under ``no_grad``;
- always in eval mode: :meth:`BaseDistiller.train` puts it back in eval;
- not a registered sub-module: it is kept outside ``_modules``, so it is not
  in ``state_dict()`` (checkpoints hold the student and connectors only), not
  in ``parameters()`` (optimizer, DDP wrapper) and not re-initialised by
  ``init_weights()``; :meth:`_apply` still moves it with ``.to()`` /
  ``.cuda()`` / ``.half()``;
- loaded strictly from ``teacher_ckpt`` with ``weights_only`` loading.

Distillation losses are given by name (``loss_kd``, ``loss_nd``, ...). Each
loss's ``forward`` parameter names say which values it reads
(``student_logits``, ``teacher_embed``, ``class_centers``, ...), so a user's
own registered loss works by naming its parameters; the distiller computes
only the teacher parts that some loss reads. ``connectors`` map an input name
(e.g. ``student_embed``) to the module that transforms it before the losses.
"""
import contextlib
import copy
import difflib
import inspect

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import nn

from nd_mmdet.registry import MODELS
from nd_mmdet.utils import (build_model_from_spec, file_digest,
                            load_model_config, load_state_dict_safely)
from nd_mmdet.utils.rng import PrivateStream, preserved_rng
from .recorder import hook_owners


def build_plugin(cfg):
    """Build a loss / connector config in the ``nd_mmdet`` scope (whatever
    the config's default scope is); ``type='pkg.Name'`` still names other
    packages' modules."""
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'nd_mmdet')
    type_name = cfg.get('type')
    if isinstance(type_name, str) and '.' not in type_name and \
            MODELS.get(type_name) is None:
        known = set(MODELS.module_dict) | set(MODELS.parent.module_dict)
        close = difflib.get_close_matches(type_name, sorted(known), 5, 0.6)
        raise ValueError(
            f'unknown type {type_name!r} in nd_mmdet.registry.MODELS; close '
            f'names: {close} (a module of your own: register it and add it '
            'to custom_imports)')
    return MODELS.build(cfg)


#: Appended to the head-level distillers' refusals of a detector family.
NECK_ALTERNATIVE = ('; any detector can be distilled at the neck with '
                    "type='NeckDistiller' (PKDLoss / CWDLoss / HCLLoss on "
                    'its stride-matched levels, and ND at its ground-truth '
                    'boxes with NDLoss)')


def loss_input_names(loss):
    """Names of the explicit parameters of ``loss.forward``."""
    params = inspect.signature(loss.forward).parameters.values()
    return tuple(p.name for p in params
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


#: The error when an ND loss runs without centres (scope-qualified type, so
#: it also works under ``default_scope='mmpretrain'`` / ``'mmdet'``).
MISSING_CENTERS_HOOK = (
    'an ND loss reads class_centers but none are set: add '
    "dict(type='nd_mmdet.ClassCentersHook') to custom_hooks")


class BaseDistiller(BaseModel):
    """Student + frozen teacher + named distillation losses.

    Args:
        student (dict | str): the student model (see
            :func:`nd_mmdet.utils.load_model_config` for the accepted forms).
        teacher (dict | str): the teacher model, same forms.
        teacher_ckpt (str): teacher checkpoint, loaded strictly. Required
            when ``build_teacher`` is True.
        distill_losses (dict[str, dict]): loss name (must start with
            ``loss``) -> loss config.
        connectors (dict[str, dict], optional): input name -> connector
            config, applied to that input before the losses read it.
        build_teacher (bool): False builds the student alone (evaluation,
            export); ``tools/test.py`` sets it. Training then fails clearly.
        nonfinite_loss (str): ``'raise'`` stops with the iteration and the
            loss name when a distillation loss is NaN/inf.
        data_preprocessor (dict, optional): configures the student's
            preprocessor when the student config has none (MMPretrain
            configs keep it at the top level); the distiller uses the
            student's preprocessor module.
    """

    #: Values a distiller hands to losses (``forward`` parameter names);
    #: each subclass documents what they mean for its models.
    AVAILABLE_INPUTS = ('student_logits', 'teacher_logits', 'student_embed',
                        'teacher_embed', 'student_feats', 'teacher_feats',
                        'labels', 'class_centers')
    #: Inputs that connectors may transform.
    CONNECTABLE_INPUTS = ('student_embed', 'student_feats')
    #: Whether :meth:`apply_connectors` can hand a connector with
    #: ``needs_levels`` (``PerLevelProjector``) the FPN level of each row.
    SUPPLIES_LEVELS = False

    def __init__(self,
                 student,
                 teacher,
                 teacher_ckpt=None,
                 distill_losses=None,
                 connectors=None,
                 build_teacher=True,
                 nonfinite_loss='raise',
                 data_preprocessor=None,
                 init_cfg=None):
        student_cfg = load_model_config(student, 'student')
        if isinstance(data_preprocessor, dict):
            # A top-level config's preprocessor configures the student's.
            student_cfg.setdefault('data_preprocessor', data_preprocessor)
        student_model = MODELS.build(student_cfg)
        # One preprocessor module, shared by the distiller and the student.
        super().__init__(
            data_preprocessor=student_model.data_preprocessor,
            init_cfg=init_cfg)
        self.student = student_model
        # What only a distiller builds (losses, connectors, teacher) draws
        # from the global stream without moving it, and its training draws
        # come from a stream of its own: the student's run of a seed is the
        # same whatever else a method adds (nd_mmdet.utils.rng).
        with preserved_rng():
            self.distill_stream = PrivateStream(
                torch.randint(2**62, ()).item())
            self._build_distillation(teacher, teacher_ckpt, distill_losses,
                                     connectors, build_teacher,
                                     nonfinite_loss)

    def _build_distillation(self, teacher, teacher_ckpt, distill_losses,
                            connectors, build_teacher, nonfinite_loss):
        if nonfinite_loss not in ('raise', ):
            raise ValueError(f"nonfinite_loss must be 'raise', got "
                             f'{nonfinite_loss!r}')
        self.nonfinite_loss = nonfinite_loss

        self.distill_losses = nn.ModuleDict()
        self.loss_inputs = {}
        for name, cfg in (distill_losses or {}).items():
            self._add_loss(name, cfg)
        self.connectors = nn.ModuleDict()
        for input_name, cfg in (connectors or {}).items():
            if input_name not in self.CONNECTABLE_INPUTS:
                raise ValueError(
                    f'connectors: {input_name!r} is not a connectable input; '
                    f'choose from {list(self.CONNECTABLE_INPUTS)}')
            self.connectors[input_name] = build_plugin(cfg)
            if getattr(self.connectors[input_name], 'needs_levels', False) \
                    and not self.SUPPLIES_LEVELS:
                raise ValueError(
                    f'connectors.{input_name}: '
                    f'{type(self.connectors[input_name]).__name__} needs the '
                    f'FPN level of each row, which {type(self).__name__} '
                    'does not have (only DenseDistiller does)')
        #: Loss name -> multiplier (set by DistillLossWarmupHook).
        self.loss_scales = {}
        self.register_buffer('class_centers', None, persistent=False)

        self.teacher_ckpt = teacher_ckpt
        self._teacher_digest = None
        teacher_model = None
        if build_teacher:
            if not teacher_ckpt:
                raise ValueError(
                    'teacher_ckpt is required to train a distiller (a '
                    'randomly initialised teacher would be distilled); '
                    'build_teacher=False builds the student alone')
            teacher_model = build_model_from_spec(teacher, 'teacher')
            load_state_dict_safely(teacher_model, teacher_ckpt)
            teacher_model.eval()
            teacher_model.requires_grad_(False)
        # Outside nn.Module's registry on purpose (see module docstring).
        object.__setattr__(self, '_teacher', teacher_model)

    # ----------------------------------------------------------- set-up
    def _add_loss(self, name, cfg):
        if not name.startswith('loss'):
            raise ValueError(
                f'distill_losses: name {name!r} must start with "loss" '
                '(mmengine sums and logs only such keys)')
        loss = build_plugin(cfg)
        wanted = loss_input_names(loss)
        unknown = [w for w in wanted if w not in self.AVAILABLE_INPUTS]
        if unknown:
            close = {
                u: difflib.get_close_matches(u, self.AVAILABLE_INPUTS, 3)
                for u in unknown
            }
            raise ValueError(
                f'distill_losses.{name} ({type(loss).__name__}) reads '
                f'{unknown}, which {type(self).__name__} does not provide '
                f'(close: {close}); available: {list(self.AVAILABLE_INPUTS)}')
        self.distill_losses[name] = loss
        self.loss_inputs[name] = wanted

    def check_preprocessors(self):
        """The teacher sees the student's preprocessed images, so both must
        normalise alike (the teacher's own preprocessor is not used): mean,
        std and channel order (MMDetection's ``bgr_to_rgb``, MMPretrain's
        ``to_rgb``) of the two configs, and the student's against the
        preprocessor the teacher checkpoint was trained with (its
        ``meta.cfg``: :mod:`nd_mmdet.utils.teacher_preprocessing`). Values
        that one config does not set are not compared."""
        from nd_mmdet.utils.teacher_preprocessing import (
            check_teacher_preprocessing, module_normalisation)
        s_pre, t_pre = self.student.data_preprocessor, \
            self.teacher.data_preprocessor
        for attr in ('mean', 'std'):
            s_val, t_val = getattr(s_pre, attr, None), getattr(
                t_pre, attr, None)
            if s_val is None or t_val is None:
                continue
            if s_val.shape != t_val.shape or not torch.allclose(
                    s_val.float().cpu(), t_val.float().cpu()):
                raise ValueError(
                    f'teacher data_preprocessor.{attr} '
                    f'{t_val.flatten().tolist()} differs from the student\'s '
                    f'{s_val.flatten().tolist()}: the teacher is run on the '
                    f"student's preprocessed images{self._renormalise_hint()}")
        # MMPretrain's to_rgb defaults to False: it counts as configured
        # where the preprocessor normalises (mean / std set).
        flips = [module_normalisation(p)['rgb'] for p in (s_pre, t_pre)
                 if hasattr(p, '_channel_conversion') or
                 getattr(p, '_enable_normalize', False)]
        if len(flips) == 2 and flips[0] != flips[1]:
            raise ValueError(
                'teacher and student data_preprocessor differ in the channel '
                f'flip (bgr_to_rgb / to_rgb: teacher {flips[1]}, student '
                f'{flips[0]}){self._renormalise_hint()}')
        if self.teacher_ckpt:
            check_teacher_preprocessing(
                self.teacher_ckpt, module_normalisation(s_pre),
                "the student's data_preprocessor")

    def _renormalise_hint(self):
        """For detectors: the distiller that maps the teacher's
        normalisation (appended to a refusal of differing ones)."""
        try:
            from mmdet.models.detectors import BaseDetector
        except ImportError:
            return ''
        if not isinstance(self.student, BaseDetector):
            return ''
        return ('; type=\'NeckDistiller\' distils these two at the neck: '
                'it re-normalises the teacher\'s input')

    def check_embed_widths(self, s_dim, t_dim, feature, field):
        """The student embedding reaches the teacher's width: through the
        ``student_embed`` connector when one is configured (its in / out
        widths must match), else the widths must be equal.

        Args:
            s_dim, t_dim (int | None): student / teacher widths (None:
                unknown, not checked).
            feature (str): what the embedding is, for messages (e.g.
                ``'RoI box feature'``).
            field (str): the config field that sets the width.
        """
        if 'student_embed' in self.connectors:
            proj = self.connectors['student_embed']
            p_in = getattr(proj, 'in_channels', None)
            p_out = getattr(proj, 'out_channels', None)
            if (s_dim and p_in and p_in != s_dim) or \
                    (t_dim and p_out and p_out != t_dim):
                raise ValueError(
                    f'connectors.student_embed maps {p_in}->{p_out} but the '
                    f"student {feature} is {s_dim}-d and the teacher's "
                    f'{t_dim}-d ({field})')
        elif s_dim and t_dim and s_dim != t_dim:
            raise ValueError(
                f'student {feature} is {s_dim}-d but teacher {feature} is '
                f'{t_dim}-d ({field}) and no projector is configured: add '
                "connectors=dict(student_embed=dict(type='EmbeddingProjector',"
                f' in_channels={s_dim}, out_channels={t_dim}))')

    @property
    def required_inputs(self):
        """Every input name some loss reads."""
        return {n for names in self.loss_inputs.values() for n in names}

    @property
    def needs_class_centers(self):
        return 'class_centers' in self.required_inputs

    @property
    def teacher(self):
        if self._teacher is None:
            raise RuntimeError(
                'this distiller was built with build_teacher=False (student '
                'only); it cannot compute distillation losses')
        return self._teacher

    @property
    def device(self):
        """Device of the student's parameters."""
        return next(iter(self.student.parameters())).device

    @property
    def has_teacher(self):
        return self._teacher is not None

    @property
    def teacher_digest(self):
        """Short sha256 of the teacher checkpoint file (centre metadata)."""
        if self._teacher_digest is None:
            self._teacher_digest = file_digest(self.teacher_ckpt)
        return self._teacher_digest

    def train(self, mode=True):
        super().train(mode)
        if self._teacher is not None:
            self._teacher.eval()
        return self

    def __deepcopy__(self, memo):
        """A copy (e.g. ``EMAHook``'s averaged model) shares the frozen
        teacher instead of duplicating it, and the recorders hooked on the
        teacher (its hooks fill those, whichever copy runs); everything
        else is copied (the student's recorders with the student: their
        hooks are bound methods, rebound to the copies)."""
        if self._teacher is not None:
            memo[id(self._teacher)] = self._teacher
            for owner in hook_owners(self._teacher):
                memo[id(owner)] = owner
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            object.__setattr__(new, key, copy.deepcopy(value, memo))
        return new

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if self._teacher is not None:
            self._teacher._apply(fn, *args, **kwargs)
        return self

    # ----------------------------------------------------- class centres
    def expected_centers_shape(self):
        """``(num_centres, teacher_embed_dim)``; subclasses define it."""
        raise NotImplementedError

    def set_class_centers(self, centers, counts=None, source=None):
        """Install the teacher class centres (K, D) read by ND losses.

        ``counts`` (K,) and ``source`` (the centre file) only serve the
        error raised when a class without a centre occurs in training.
        """
        expected = tuple(self.expected_centers_shape())
        if centers.dim() != 2 or tuple(centers.shape) != expected:
            raise ValueError(f'class_centers has shape {tuple(centers.shape)}'
                             f', expected {expected} (num_centres, '
                             'teacher embedding width)')
        self.class_centers = centers.detach().float().to(self.device)
        self.class_centers_source = source
        self.class_centers_empty = [] if counts is None else \
            (torch.as_tensor(counts) == 0).nonzero().flatten().tolist()

    def teacher_embeddings_for_centers(self, data):
        """Return ``(embeddings (M, D), labels (M,))`` of the teacher on one
        batch of training data, for the class-centre pre-pass."""
        raise NotImplementedError

    @contextlib.contextmanager
    def frozen_student(self):
        """Run the block with the student in eval mode (its BN statistics
        untouched) and without gradient; the student's mode is restored
        after, also on an exception. For the pre-pass of detectors, whose
        teacher entries come from the student's own assignment."""
        was_training = self.student.training
        self.student.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.student.train(was_training)

    def _centers_context(self, err):
        """``err`` with the centre file named, when it is about centres."""
        source = getattr(self, 'class_centers_source', None)
        if 'class_centers' not in str(err) or not source:
            return err
        empty = getattr(self, 'class_centers_empty', [])
        hint = (f'; classes {empty[:20]} had no samples in its pre-pass: '
                'delete it and raise ClassCentersHook max_iters'
                if empty else '; delete it to recompute')
        return ValueError(f'{err} (class centres from {source}{hint})')

    # ------------------------------------------------------------ forward
    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode=mode)

    def loss(self, inputs, data_samples):
        student_losses, values = self.forward_distill(inputs, data_samples)
        losses = dict(student_losses)
        for name, value in self.compute_distill_losses(values).items():
            if name in losses:
                raise ValueError(f'distillation loss name {name!r} clashes '
                                 "with one of the student's own losses")
            losses[name] = value
        return losses

    def forward_distill(self, inputs, data_samples):
        """Return ``(student_losses, values)``: the student's own loss dict
        and the inputs the distillation losses read (connectors applied)."""
        raise NotImplementedError

    def apply_connectors(self, values):
        """Each connector on its input; one with ``needs_levels`` also gets
        the entries' FPN levels (``values['positions'][:, 1]``, only
        distillers with ``SUPPLIES_LEVELS`` accept such connectors)."""
        with self.distill_stream(self.device):
            for input_name, connector in self.connectors.items():
                if input_name not in values:
                    continue
                extra = (values['positions'][:, 1], ) if getattr(
                    connector, 'needs_levels', False) else ()
                values[input_name] = connector(values[input_name], *extra)
        return values

    def compute_distill_losses(self, values):
        if 'class_centers' in self.required_inputs:
            if self.class_centers is None:
                raise ValueError(MISSING_CENTERS_HOOK)
            values['class_centers'] = self.class_centers
        losses = {}
        for name, loss in self.distill_losses.items():
            try:
                with self.distill_stream(self.device):
                    value = loss(
                        **{k: values[k] for k in self.loss_inputs[name]})
            except ValueError as err:
                raise self._centers_context(err) from err
            value = value * self.loss_scales.get(name, 1.0)
            if not torch.isfinite(value).all():
                iteration = MessageHub.get_current_instance().get_info(
                    'iter', 'unknown')
                raise FloatingPointError(
                    f'distillation loss {name} is {value.item()} at '
                    f'iteration {iteration}')
            losses[name] = value
        return losses

"""Weights that load nothing stop the run instead of training from scratch.

mmengine loads ``load_from`` and ``init_cfg=dict(type='Pretrained')``
checkpoints non-strictly: keys that match no weight of the model are only
listed in a log warning, and the model keeps its random initialisation. A
plain student checkpoint given as ``load_from`` to a distiller (whose keys
start with ``student.``), the teacher's checkpoint, or a backbone checkpoint
with another key layout then loads nothing, and the run trains from scratch
with exit 0.

Both checks count the model's weights that the checkpoint holds with the
same name and shape (what a non-strict load actually loads) and stop when
fewer than :data:`MIN_LOADED` of them are:

- :func:`check_load_from` (``tools/train.py``, before training): the error
  says what the file is (:func:`nd_mmdet.utils.state_dict_match.
  checkpoint_kind`: the teacher's, a plain student's, another model's) and
  the setting that loads it right;
- :func:`check_pretrained_load` (called by the compat wrapper of
  mmengine's ``load_state_dict`` while a ``Pretrained`` init runs, so it
  sees exactly what mmengine loads, with ``prefix`` and key revisions
  applied): the module, the counts and, when stripping a leading prefix of
  the checkpoint's keys would load them, that ``prefix``.

A fine-tuning checkpoint whose head differs (another class count) loads
most weights and passes.
"""
from .safe_load import _strip_prefix
from .state_dict_match import (KIND_WORDS, checkpoint_kind,
                               checkpoint_state_dict, matched_keys)

#: Share of the model's weights a checkpoint must load.
MIN_LOADED = 0.5


def _counts(expected, state_dict):
    loaded = matched_keys(expected, state_dict)
    missing = sorted(set(expected) - set(loaded))
    return len(loaded), missing


def _best_prefix(expected, state_dict):
    """A leading ``'name.'`` of the checkpoint's keys whose removal loads at
    least :data:`MIN_LOADED` of ``expected`` (None if none does)."""
    heads = {k.split('.', 1)[0] + '.' for k in state_dict if '.' in k}
    best, best_count = None, 0
    for head in sorted(heads):
        stripped = {k[len(head):]: v for k, v in state_dict.items()
                    if k.startswith(head)}
        count = len(matched_keys(expected, stripped))
        if count > best_count:
            best, best_count = head, count
    return best if best_count >= MIN_LOADED * len(expected) else None


def check_load_from(model, checkpoint, path):
    """``checkpoint`` (loaded from ``load_from`` = ``path``) loads at least
    :data:`MIN_LOADED` of ``model``'s weights.

    Raises:
        ValueError: naming ``path``, what it is and the counts.
    """
    state_dict = _strip_prefix(checkpoint_state_dict(checkpoint, path),
                               'module.')
    own = model.state_dict()
    loaded, missing = _counts(own, state_dict)
    if not own or loaded >= MIN_LOADED * len(own):
        return
    kind = checkpoint_kind(model, state_dict)
    fix = {
        'teacher': '; the teacher is loaded from model.teacher_ckpt: drop '
                   'load_from (to start the student from these weights, its '
                   'architecture must be the same: model.student.init_cfg='
                   f"dict(type='Pretrained', checkpoint='{path}'))",
        'student': "; to start the student from it set "
                   f"model.student.init_cfg=dict(type='Pretrained', "
                   f"checkpoint='{path}') instead of load_from (on the "
                   'command line: --cfg-options '
                   'model.student.init_cfg.type=Pretrained '
                   f'model.student.init_cfg.checkpoint={path})',
    }.get(kind, f', e.g. missing {missing[:3]}')
    raise ValueError(
        f'load_from: {path} is {KIND_WORDS[kind]}: it loads {loaded} of the '
        f"{len(own)} weights of this model (below {MIN_LOADED:.0%}){fix}")


def check_pretrained_load(module, state_dict, checkpoint):
    """A ``Pretrained`` init of ``module`` from ``checkpoint`` (its
    ``state_dict`` as mmengine is about to load it) loads at least
    :data:`MIN_LOADED` of the module's weights.

    Raises:
        ValueError: naming the checkpoint, the module's class and counts.
    """
    own = module.state_dict()
    loaded, missing = _counts(own, state_dict)
    if not own or loaded >= MIN_LOADED * len(own):
        return
    prefix = _best_prefix(own, state_dict)
    hint = (f"; its keys start with '{prefix}': set "
            f"init_cfg=dict(type='Pretrained', checkpoint=..., "
            f"prefix='{prefix}')" if prefix else
            f', e.g. missing {missing[:3]}, checkpoint keys '
            f'{sorted(state_dict)[:3]}')
    raise ValueError(
        f"init_cfg=dict(type='Pretrained', checkpoint='{checkpoint}'): it "
        f'loads {loaded} of the {len(own)} weights of '
        f'{type(module).__name__} (below {MIN_LOADED:.0%}; mmengine would '
        f'only warn and keep the random initialisation){hint}')

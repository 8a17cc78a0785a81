"""Does a checkpoint hold exactly the weights of a model?

mmengine loads checkpoints non-strictly: weights that match no parameter
are skipped with a log line and the model keeps its random initialisation.
A test run on the wrong checkpoint (a teacher's, or a distiller's on the
plain student config) then reports the score of an untrained model. The
tools compare the checkpoint with the model first: every key of the model
must be in the checkpoint with the same shape, and nothing else.
"""

#: Prefix of the student's weights in a distiller checkpoint.
STUDENT_PREFIX = 'student.'
#: How many keys of each kind an error message lists.
SHOWN = 5


def checkpoint_state_dict(ckpt, path):
    """The ``state_dict`` of a loaded checkpoint (or the checkpoint itself
    when it is a bare ``{name: tensor}`` dict).

    Raises:
        ValueError: ``ckpt`` holds no state dict (named by ``path``).
    """
    import torch
    if isinstance(ckpt, dict) and isinstance(ckpt.get('state_dict'), dict):
        return ckpt['state_dict']
    if isinstance(ckpt, dict) and ckpt and all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise ValueError(f'checkpoint {path} holds no state dict')


def with_prefix(state_dict, prefix):
    """Entries whose key starts with ``prefix``, the prefix stripped."""
    return {k[len(prefix):]: v for k, v in state_dict.items()
            if k.startswith(prefix)}


def mismatch(expected, state_dict):
    """How ``state_dict`` differs from ``expected`` (a model's own state
    dict): ``None`` when keys and shapes match exactly, else
    ``dict(missing=..., unexpected=..., shapes=...)`` (sorted key lists)."""
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    shapes = sorted(k for k in expected if k in state_dict and
                    tuple(expected[k].shape) != tuple(state_dict[k].shape))
    if missing or unexpected or shapes:
        return dict(missing=missing, unexpected=unexpected, shapes=shapes)
    return None


def describe(diff):
    """One line for :func:`mismatch`'s result: the counts and the first
    :data:`SHOWN` keys of each kind."""
    parts = [f'{len(keys)} {kind} {keys[:SHOWN]}'
             for kind, keys in (('missing', diff['missing']),
                                ('unexpected', diff['unexpected']),
                                ('shape mismatches', diff['shapes']))
             if keys]
    return ', '.join(parts)


def matched_keys(expected, state_dict):
    """Keys of ``expected`` that ``state_dict`` holds with the same shape
    (what a non-strict load actually loads)."""
    return [k for k, v in expected.items() if k in state_dict and
            tuple(v.shape) == tuple(state_dict[k].shape)]


def _covers(expected, state_dict):
    return bool(expected) and len(matched_keys(expected, state_dict)) == \
        len(expected)


#: What :func:`checkpoint_kind` returns, worded for messages.
KIND_WORDS = {
    'model': "this model's checkpoint",
    'teacher': "the teacher's checkpoint (a plain model of the teacher's "
               'architecture)',
    'student': "a plain checkpoint of the student's architecture (keys "
               "without the distiller's \"student.\" prefix)",
    'other': 'a checkpoint of another model',
}


def checkpoint_kind(model, state_dict):
    """What a checkpoint's ``state_dict`` is for ``model``:

    - ``'model'``: it holds every weight of ``model`` (same shapes);
    - ``'teacher'``: ``model`` is a distiller and it holds exactly its
      teacher's weights (or at least all of them, when it does not hold
      all the student's: a deeper teacher of the same widths, e.g. ResNet-56
      for ResNet-20, also holds every student key);
    - ``'student'``: it holds the student's weights without the
      ``student.`` prefix (a plain classifier / detector checkpoint);
    - ``'other'``: anything else.
    """
    if _covers(model.state_dict(), state_dict):
        return 'model'
    student = with_prefix(model.state_dict(), STUDENT_PREFIX)
    teacher = model.teacher.state_dict() if getattr(
        model, 'has_teacher', False) else {}
    for kind, expected in (('student', student), ('teacher', teacher)):
        if expected and mismatch(expected, state_dict) is None:
            return kind
    if _covers(teacher, state_dict):
        return 'teacher'
    if _covers(student, state_dict):
        return 'student'
    return 'other'

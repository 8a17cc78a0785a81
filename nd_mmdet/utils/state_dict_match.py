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

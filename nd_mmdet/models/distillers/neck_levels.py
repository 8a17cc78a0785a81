"""Feature levels of a detector's ``extract_feat`` and their pairing by
stride, for neck-level distillation between any two detectors.

A detector's ``extract_feat`` (backbone + neck) returns a tuple of
``(N, C_l, H_l, W_l)`` maps. Their strides are measured once, at build
time, by a probe: ``extract_feat`` on a ``(1, 3, S, S)`` zero image in eval
mode without gradient (``S = probe_size``, a multiple of every stride up to
``S``, so ``stride_l = S / H_l`` exactly). Nothing of the model changes (no
BN statistic is updated; the mode is restored).

Two detectors' levels are paired on the strides they share: a Faster R-CNN
teacher (P2-P6, strides 4-64) and a RetinaNet student (P3-P7, 8-128) pair
on 8, 16, 32, 64. A user may name the pairs instead (``level_pairs``) or
keep only some strides (``strides``).
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch


class Level(NamedTuple):
    """One output of ``extract_feat``: its index, stride and channels."""
    index: int
    stride: int
    channels: int


class LevelPair(NamedTuple):
    """A student level and the teacher level it imitates."""
    student: Level
    teacher: Level


def feature_tuple(feats, owner):
    """``extract_feat``'s output as a tuple of 4-D tensors, or a ValueError
    naming ``owner`` (e.g. ``'student neck'``)."""
    if isinstance(feats, torch.Tensor):
        feats = (feats, )
    if not isinstance(feats, (list, tuple)) or not feats or not all(
            isinstance(f, torch.Tensor) and f.dim() == 4 for f in feats):
        kinds = type(feats).__name__ if not isinstance(
            feats, (list, tuple)) else [
                tuple(f.shape) if isinstance(f, torch.Tensor) else
                type(f).__name__ for f in feats]
        raise ValueError(
            f'{owner}: expected a tuple of (N, C, H, W) feature maps, got '
            f'{kinds}')
    return tuple(feats)


@torch.no_grad()
def probe_levels(model, side, probe_size=256):
    """Measure ``model.extract_feat``'s levels on a zero image.

    Args:
        model (nn.Module): an MMDetection detector (anything with
            ``extract_feat(batch_inputs)``).
        side (str): ``'student'`` / ``'teacher'``, for messages.
        probe_size (int): side of the square probe image.

    Returns:
        list[Level]: one per output, in ``extract_feat``'s order.

    Raises:
        ValueError: no ``extract_feat``, an output that is not a map, or a
            level whose size does not divide ``probe_size`` (name another
            ``probe_size``).
    """
    if not callable(getattr(model, 'extract_feat', None)):
        raise ValueError(
            f'{side}: {type(model).__name__} has no extract_feat(); '
            'NeckDistiller distils MMDetection detectors (backbone + neck)')
    was_training = model.training
    model.eval()
    try:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else 'cpu'
        probe = torch.zeros(1, 3, probe_size, probe_size, device=device)
        feats = feature_tuple(model.extract_feat(probe),
                              f'{side}.extract_feat')
    finally:
        model.train(was_training)
    levels = []
    for index, feat in enumerate(feats):
        height, width = feat.shape[-2:]
        if probe_size % height or probe_size % width or height != width:
            raise ValueError(
                f'{side}.extract_feat level {index} is {height}x{width} on a '
                f'{probe_size}x{probe_size} probe: its stride is not a '
                'divisor of the probe size; set probe_size to a multiple of '
                'every stride (e.g. 512)')
        levels.append(Level(index, probe_size // height, feat.shape[1]))
    return levels


def match_levels(student_levels: Sequence[Level],
                 teacher_levels: Sequence[Level],
                 strides: Optional[Sequence[int]] = None,
                 level_pairs: Optional[Sequence[Tuple[int, int]]] = None
                 ) -> List[LevelPair]:
    """Pair student and teacher levels.

    Args:
        student_levels, teacher_levels: from :func:`probe_levels`.
        strides: keep only these strides (each must be a level of both).
            Default: every stride both models have.
        level_pairs: explicit ``(student_index, teacher_index)`` pairs
            (indices into ``extract_feat``'s outputs), which must have equal
            strides; exclusive with ``strides``.

    Returns:
        list[LevelPair], in the student's level order.

    Raises:
        ValueError: no shared stride; a requested stride or index that one
            side lacks; a named pair of different strides; a stride that
            appears twice on one side.
    """
    if strides is not None and level_pairs is not None:
        raise ValueError('give either strides or level_pairs, not both')
    if level_pairs is not None:
        pairs = []
        for s_idx, t_idx in level_pairs:
            for side, levels, idx in (('student', student_levels, s_idx),
                                      ('teacher', teacher_levels, t_idx)):
                if not 0 <= idx < len(levels):
                    raise ValueError(
                        f'level_pairs: {side} level {idx} does not exist; '
                        f'the {side} has {len(levels)} levels '
                        f'(strides {[lv.stride for lv in levels]})')
            s_lv, t_lv = student_levels[s_idx], teacher_levels[t_idx]
            if s_lv.stride != t_lv.stride:
                raise ValueError(
                    f'level_pairs: student level {s_idx} (stride '
                    f'{s_lv.stride}) and teacher level {t_idx} (stride '
                    f'{t_lv.stride}) have different strides')
            pairs.append(LevelPair(s_lv, t_lv))
        if not pairs:
            raise ValueError('level_pairs is empty')
        return pairs
    by_stride = {}
    for side, levels in (('student', student_levels),
                         ('teacher', teacher_levels)):
        seen = {}
        for lv in levels:
            if lv.stride in seen:
                raise ValueError(
                    f'{side} levels {seen[lv.stride]} and {lv.index} both '
                    f'have stride {lv.stride}: name the pairs with '
                    'level_pairs=[(student_index, teacher_index), ...]')
            seen[lv.stride] = lv.index
        by_stride[side] = {lv.stride: lv for lv in levels}
    s_strides = [lv.stride for lv in student_levels]
    t_strides = [lv.stride for lv in teacher_levels]
    shared = [s for s in s_strides if s in by_stride['teacher']]
    if strides is not None:
        missing = {side: [s for s in strides if s not in by_stride[side]]
                   for side in by_stride}
        for side, lacking in missing.items():
            if lacking:
                raise ValueError(
                    f'strides: the {side} has no level of stride {lacking} '
                    f'(student strides {s_strides}, teacher strides '
                    f'{t_strides})')
        shared = [s for s in shared if s in set(strides)]
    if not shared:
        raise ValueError(
            f'student strides {s_strides} and teacher strides {t_strides} '
            'share none: neck distillation needs levels of equal stride')
    return [LevelPair(by_stride['student'][s], by_stride['teacher'][s])
            for s in shared]


def describe_pairs(pairs: Sequence[LevelPair],
                   student_levels: Sequence[Level] = (),
                   teacher_levels: Sequence[Level] = ()) -> str:
    """The pairing in one line, for the build log, e.g. ``stride 8: student
    level 0 (64 ch) <- teacher level 1 (256 ch); ...; unpaired: student
    strides [128], teacher strides [4]``."""
    text = '; '.join(
        f'stride {p.student.stride}: student level {p.student.index} '
        f'({p.student.channels} ch) <- teacher level {p.teacher.index} '
        f'({p.teacher.channels} ch)' for p in pairs)
    unpaired = []
    for side, levels in (('student', student_levels),
                         ('teacher', teacher_levels)):
        used = {getattr(p, side).index for p in pairs}
        left = [lv.stride for lv in levels if lv.index not in used]
        if left:
            unpaired.append(f'{side} strides {left}')
    if unpaired:
        text += '; unpaired: ' + ', '.join(unpaired)
    return text

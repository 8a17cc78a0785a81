"""Level probing and stride matching of NeckDistiller, on hand-made
extract_feat outputs."""
import pytest
import torch
from torch import nn

from nd_mmdet.models.distillers.neck_levels import (Level, feature_tuple,
                                                    match_levels,
                                                    probe_levels)

torch.set_num_threads(1)


def levels(strides, channels=16, first=0):
    return [Level(first + i, s, channels) for i, s in enumerate(strides)]


FASTER = levels([4, 8, 16, 32, 64], 32)  # P2-P6
RETINA = levels([8, 16, 32, 64, 128], 16)  # P3-P7


def test_pairs_on_shared_strides():
    pairs = match_levels(RETINA, FASTER)
    assert [p.student.stride for p in pairs] == [8, 16, 32, 64]
    assert [(p.student.index, p.teacher.index) for p in pairs] == \
        [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert all(p.student.stride == p.teacher.stride for p in pairs)


def test_strides_subset_and_missing():
    pairs = match_levels(RETINA, FASTER, strides=[32, 16])
    assert [(p.student.index, p.teacher.index) for p in pairs] == \
        [(1, 2), (2, 3)]
    with pytest.raises(ValueError, match=r'teacher has no level of stride '
                       r'\[128\]'):
        match_levels(RETINA, FASTER, strides=[16, 128])


def test_named_pairs():
    pairs = match_levels(RETINA, FASTER, level_pairs=[(2, 3)])
    assert [(p.student.stride, p.teacher.stride) for p in pairs] == \
        [(32, 32)]
    with pytest.raises(ValueError, match='different strides'):
        match_levels(RETINA, FASTER, level_pairs=[(0, 0)])
    with pytest.raises(ValueError, match='student level 7 does not exist'):
        match_levels(RETINA, FASTER, level_pairs=[(7, 0)])
    with pytest.raises(ValueError, match='either strides or level_pairs'):
        match_levels(RETINA, FASTER, strides=[8], level_pairs=[(0, 1)])
    with pytest.raises(ValueError, match='empty'):
        match_levels(RETINA, FASTER, level_pairs=[])


def test_no_shared_stride_and_duplicates():
    with pytest.raises(ValueError, match=r'share none'):
        match_levels(levels([4]), levels([8, 16]))
    with pytest.raises(ValueError, match='both have stride 8'):
        match_levels(levels([8, 8]), levels([8]))


class Pyramid(nn.Module):
    """extract_feat: a BN'd 1x1 conv, then average pooling by ``strides``."""

    def __init__(self, strides, channels=4):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 1)
        self.bn = nn.BatchNorm2d(channels)
        self.strides = strides

    def extract_feat(self, x):
        x = self.bn(self.conv(x))
        return tuple(nn.functional.avg_pool2d(x, s, ceil_mode=True)
                     for s in self.strides)


def test_probe_measures_strides_and_leaves_model_unchanged():
    model = Pyramid((4, 8, 32))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = probe_levels(model, 'student')
    assert found == [Level(0, 4, 4), Level(1, 8, 4), Level(2, 32, 4)]
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_probe_errors():
    with pytest.raises(ValueError, match='teacher: Linear has no '
                       'extract_feat'):
        probe_levels(nn.Linear(2, 2), 'teacher')
    # stride 3 does not divide 256: the level is 86x86
    with pytest.raises(ValueError, match=r'level 1 is 86x86 on a 256x256 '
                       'probe.*probe_size'):
        probe_levels(Pyramid((4, 3)), 'student')
    assert probe_levels(Pyramid((4, 3)), 'student',
                        probe_size=384)[1].stride == 3


def test_feature_tuple():
    x = torch.zeros(1, 2, 3, 3)
    assert feature_tuple(x, 'neck') == (x, )
    assert feature_tuple([x, x], 'neck') == (x, x)
    with pytest.raises(ValueError, match=r'neck: expected a tuple of '
                       r'\(N, C, H, W\) feature maps, got \[\(2, 3\)\]'):
        feature_tuple([torch.zeros(2, 3)], 'neck')
    with pytest.raises(ValueError, match='got dict'):
        feature_tuple(dict(a=x), 'neck')

"""What a user reads while configuring a detector pair: the NeckDistiller
build log names the paired strides and the teacher's input mapping, and a
head-level distiller refusing differing normalisation names NeckDistiller."""
import copy
import uuid

import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.logging import MMLogger

from nd_mmdet.models.distillers import DenseDistiller, NeckDistiller
from nd_mmdet.models.distillers.neck_distiller import describe_teacher_input
from nd_mmdet.models.distillers.neck_levels import (Level, LevelPair,
                                                    describe_pairs)
from nd_mmdet.models.distillers.teacher_inputs import TeacherInputMap
from nd_mmdet.utils import build_model_from_spec
from tests.detector_zoo import tiny_detector

torch.set_num_threads(1)
PKD = dict(loss_pkd=dict(type='PKDLoss', loss_weight=1.0))
KD = dict(loss_kd=dict(type='BinaryKDLoss', loss_weight=1.0))


def _saved(tmp_path, model_cfg):
    torch.manual_seed(1)
    path = str(tmp_path / f'{uuid.uuid4().hex}.pth')
    torch.save(dict(state_dict=build_model_from_spec(
        copy.deepcopy(model_cfg)).state_dict()), path)
    return path


def test_build_log_names_pairs_and_teacher_input(tmp_path):
    """RTMDet student (strides 8-32, BGR, 16 ch) <- Faster R-CNN teacher
    (strides 4-64, RGB, 32 ch, pad divisor 32)."""
    teacher = tiny_detector('faster_rcnn', width=2)
    log_file = tmp_path / 'build.log'
    MMLogger.get_instance(f'neck-log-{uuid.uuid4().hex}',
                          log_file=str(log_file), log_level='INFO')
    NeckDistiller(
        student=tiny_detector('rtmdet'), teacher=teacher,
        teacher_ckpt=_saved(tmp_path, teacher), distill_losses=PKD,
        connectors=dict(student_feats=dict(
            type='ConvBNConnector', in_channels=16, out_channels=32,
            num_levels=3)))
    lines = [line.split('NeckDistiller: ', 1)[1]
             for line in log_file.read_text().splitlines()
             if 'NeckDistiller: ' in line]
    assert lines == [
        'levels paired: stride 8: student level 0 (16 ch) <- teacher level '
        '1 (32 ch); stride 16: student level 1 (16 ch) <- teacher level 2 '
        '(32 ch); stride 32: student level 2 (16 ch) <- teacher level 3 '
        '(32 ch); unpaired: teacher strides [4, 64]',
        'teacher input: re-normalised: x_t = flip_channels(x_s), pad value '
        '0, padded to a multiple of 32']


def test_teacher_input_description_gives_scale_and_shift():
    """x_t = (x_s * std_s + mean_s - mean_t) / std_t: with the student's
    mean 0, std 1 and the teacher's mean (1, 2, 3), std 2, scale 0.5 and
    shift -mean_t / 2."""
    mapping = TeacherInputMap(
        DetDataPreprocessor(mean=[0., 0., 0.], std=[1., 1., 1.]),
        DetDataPreprocessor(mean=[1., 2., 3.], std=[2., 2., 2.],
                            pad_value=0))
    assert describe_teacher_input(mapping) == (
        're-normalised: x_t = x_s * [0.5, 0.5, 0.5] + [-0.5, -1.0, -1.5] '
        '(per channel), pad value 0')
    same = TeacherInputMap(DetDataPreprocessor(mean=[1., 2., 3.],
                                               std=[2., 2., 2.]),
                           DetDataPreprocessor(mean=[1., 2., 3.],
                                               std=[2., 2., 2.]))
    assert describe_teacher_input(same) == (
        "the student's batch as is (same mean, std, channel order and pad "
        'value)')


def test_describe_pairs_without_unpaired_levels():
    pair = LevelPair(Level(2, 16, 8), Level(0, 16, 24))
    assert describe_pairs([pair]) == \
        'stride 16: student level 2 (8 ch) <- teacher level 0 (24 ch)'


def test_head_level_refusal_names_neck_distiller(tmp_path):
    teacher = tiny_detector('retinanet', width=2)
    teacher.data_preprocessor.mean = [0., 0., 0.]
    with pytest.raises(ValueError) as info:
        DenseDistiller(student=tiny_detector('retinanet'), teacher=teacher,
                       teacher_ckpt=_saved(tmp_path, teacher),
                       distill_losses=KD)
    message = str(info.value)
    assert 'differs from the student' in message
    assert "type='NeckDistiller' distils these two at the neck" in message

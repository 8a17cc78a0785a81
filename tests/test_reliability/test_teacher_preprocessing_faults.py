"""Fault catalogue: a teacher fed other preprocessing than it was trained
with (its checkpoint's meta.cfg against the student's preprocessor, for a
classifier and a one-stage detector), through tools/train.py."""
import pytest
import torch
from mmengine.config import Config

from tests.test_reliability.test_dense_path_faults import dense  # noqa: F401
from tests.test_reliability.tool_call import assert_one_error
from tests.tools_runner import cifar_options

KDPP = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'


def retrained_as(src, dst, **preprocessor):
    """A copy of checkpoint ``src`` whose meta.cfg says its data
    preprocessor had ``preprocessor`` (weights unchanged)."""
    ckpt = torch.load(src, weights_only=False)
    cfg = Config.fromstring(ckpt['meta']['cfg'], '.py')
    cfg.model.data_preprocessor.update(preprocessor)
    if 'data_preprocessor' in cfg:
        cfg.data_preprocessor.update(preprocessor)
    ckpt['meta']['cfg'] = cfg.pretty_text
    torch.save(ckpt, dst)
    return str(dst)


@pytest.mark.parametrize('change,needles', [
    (dict(to_rgb=True), ['channel flip (to_rgb / bgr_to_rgb)=True',
                         'channel flip (to_rgb / bgr_to_rgb)=False']),
    (dict(mean=[125.3, 123.0, 113.9]), ['mean=[125.3, 123.0, 113.9]',
                                        'mean=[129.304, 124.07, 112.434]']),
])
@pytest.mark.clear_error
def test_classifier_teacher_trained_with_other_preprocessing(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path, change,
        needles):
    """The teacher was trained with ``to_rgb=True`` (or another mean); the
    KD++ config feeds it the student's ``to_rgb=False`` batch."""
    teacher = retrained_as(tiny_cifar_teacher, tmp_path / 'teacher.pth',
                           **change)
    result = tool('train.py', KDPP, '--work-dir', tmp_path / 'run',
                  *cifar_options(tiny_cifar_root),
                  f'model.teacher_ckpt={teacher}')
    assert_one_error(result, teacher, 'its meta.cfg',
                     "the student's data_preprocessor", *needles)


@pytest.mark.survived
def test_classifier_teacher_with_its_own_preprocessing_trains(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path):
    """A meta.cfg rewritten with the same values passes (the check compares
    values, not text)."""
    teacher = retrained_as(tiny_cifar_teacher, tmp_path / 'teacher.pth',
                           to_rgb=False, mean=[129.3040, 124.07, 112.434])
    result = tool('train.py', KDPP, '--work-dir', tmp_path / 'run',
                  *cifar_options(tiny_cifar_root),
                  f'model.teacher_ckpt={teacher}')
    assert result[0] == 0, result


@pytest.mark.clear_error
def test_detector_teacher_trained_with_the_other_channel_order(
        dense, tool, tmp_path):  # noqa: F811
    """The RetinaNet teacher's meta.cfg says ``bgr_to_rgb`` is the opposite
    of the student's (and of the teacher config in the distiller config)."""
    plain = Config.fromfile(dense['plain'])
    flip = not plain.model.data_preprocessor.get('bgr_to_rgb', False)
    teacher = retrained_as(dense['teacher'], tmp_path / 'teacher.pth',
                           bgr_to_rgb=flip)
    result = tool('train.py', dense['kdpp'](teacher, name='kdpp_flip.py'),
                  '--work-dir', tmp_path / 'run')
    assert_one_error(result, teacher, 'its meta.cfg',
                     f'channel flip (to_rgb / bgr_to_rgb)={flip}',
                     f'channel flip (to_rgb / bgr_to_rgb)={not flip}')


@pytest.mark.clear_error
def test_neck_teacher_config_misstates_its_channel_order(tool, tmp_path):
    """The NeckDistiller maps the student's batch to the teacher's
    preprocessing as the distiller config states it; the teacher checkpoint's
    meta.cfg says it was trained with the other ``bgr_to_rgb``."""
    from nd_mmdet.utils import build_model_from_spec
    from tests.test_e2e.test_neck_e2e import model_file, pkd_tiny_config
    from tests.tiny_coco import write_tiny_coco
    data = write_tiny_coco(str(tmp_path / 'coco'), num_train=4, num_val=2)
    student = model_file(tmp_path / 'retinanet_tiny.py', 'retinanet', 1)
    teacher = model_file(tmp_path / 'fcos_tiny.py', 'fcos', 2)
    stated = Config.fromfile(teacher).model.data_preprocessor
    trained = dict(stated, bgr_to_rgb=not stated.get('bgr_to_rgb', False))
    ckpt = str(tmp_path / 'fcos.pth')
    torch.save(dict(
        state_dict=build_model_from_spec(teacher).state_dict(),
        meta=dict(cfg=Config(dict(model=dict(
            data_preprocessor=trained))).pretty_text)), ckpt)
    config = pkd_tiny_config(tmp_path, student, teacher, ckpt, data['root'],
                             1)
    result = tool('train.py', config, '--work-dir', tmp_path / 'run')
    assert_one_error(
        result, ckpt, "the teacher's data_preprocessor of this config",
        'NeckDistiller',
        f'channel flip (to_rgb / bgr_to_rgb)={trained["bgr_to_rgb"]}')

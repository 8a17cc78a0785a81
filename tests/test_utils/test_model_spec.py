"""nd_mmdet.utils.model_spec: named configs with overrides, and
load_config expanding a distiller's named student / teacher so that
--cfg-options and later config fields merge into it."""
import os.path as osp

import pytest

from nd_mmdet.utils.entrypoint import load_config
from nd_mmdet.utils.model_spec import distiller_part_config, load_model_config
from tests.tools_runner import REPO

RESNET20 = osp.join(REPO, 'configs/_base_/models/cifar100/resnet20.py')
RETINANET = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
CIFAR_KDPP = osp.join(
    REPO, 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py')
COCO_KDPP = osp.join(
    REPO, 'configs/coco/kd++/kd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py')


def test_named_config_with_overrides_merges_into_its_model():
    plain = load_model_config(RESNET20, 'student')
    cfg = load_model_config(
        dict(config=RESNET20, head=dict(num_classes=7)), 'student')
    assert cfg.head.num_classes == 7
    # the rest of the head and of the model is the named config's
    assert cfg.head.in_channels == plain.head.in_channels == 64
    assert cfg.backbone == plain.backbone
    assert cfg._scope_ == plain._scope_ == 'mmpretrain'
    assert 'config' not in cfg


def test_override_with_delete_replaces_the_field():
    cfg = load_model_config(dict(
        config=RESNET20,
        head=dict(_delete_=True, type='LinearClsHead', num_classes=2,
                  in_channels=64)), 'student')
    assert dict(cfg.head) == dict(type='LinearClsHead', num_classes=2,
                                  in_channels=64)


def test_package_config_with_overrides():
    cfg = load_model_config(
        dict(config=RETINANET, bbox_head=dict(num_classes=1)), 'teacher')
    assert cfg.bbox_head.num_classes == 1
    assert cfg.backbone.depth == 18 and cfg._scope_ == 'mmdet'


def test_unknown_override_key_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"student: the model of .*"
                       r"resnet20.py has no field 'haed'"):
        load_model_config(dict(config=RESNET20, haed=dict(num_classes=7)),
                          'student')
    with pytest.raises(ValueError, match='student.config must be a config'):
        load_model_config(dict(config=3), 'student')
    with pytest.raises(FileNotFoundError, match='absent.py'):
        load_model_config(dict(config='absent.py'), 'student')


def test_distiller_part_config_takes_the_distillers_preprocessor():
    cfg = load_config(CIFAR_KDPP)
    student = distiller_part_config(cfg.model, 'student')
    assert student.data_preprocessor == cfg.data_preprocessor
    # the student's own preprocessor wins
    cfg.model.student.data_preprocessor = dict(type='Own')
    assert distiller_part_config(
        cfg.model, 'student').data_preprocessor == dict(type='Own')


def test_load_config_expands_named_models_before_cfg_options():
    cfg = load_config(CIFAR_KDPP, {'model.student.head.num_classes': 10})
    assert cfg.model.student.head.num_classes == 10
    assert cfg.model.student.backbone.arch == 'resnet20'
    assert cfg.model.teacher.backbone.arch == 'resnet56'
    cfg = load_config(COCO_KDPP, {
        'model.student.roi_head.bbox_head.num_classes': 1,
        'model.teacher.roi_head.bbox_head.num_classes': 1})
    for role, depth in (('student', 18), ('teacher', 101)):
        part = cfg.model[role]
        assert part.roi_head.bbox_head.num_classes == 1
        assert part.backbone.depth == depth and part._scope_ == 'mmdet'


def test_config_file_overrides_a_named_student(tmp_path):
    config = tmp_path / 'kdpp_10.py'
    config.write_text(f"""
_base_ = [{CIFAR_KDPP!r}]
model = dict(student=dict(_delete_=True, config={RESNET20!r},
                          head=dict(num_classes=10)))
""")
    cfg = load_config(str(config), {'model.student.head.in_channels': 64})
    assert cfg.model.student.head.num_classes == 10
    assert cfg.model.student.backbone.arch == 'resnet20'
    bad = tmp_path / 'bad.py'
    bad.write_text(config.read_text().replace('head=', 'heed='))
    with pytest.raises(ValueError, match="has no field 'heed'"):
        load_config(str(bad))


def _pair_config(folder, student, teacher="'teacher.py'"):
    """A KD++ config in ``folder`` naming its student and teacher by the
    given (relative) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / 'pair.py'
    config.write_text(f"""
_base_ = [{CIFAR_KDPP!r}]
model = dict(student=dict(_delete_=True, config={student},
                          head=dict(num_classes=10)),
             teacher={teacher})
""")
    return str(config)


def _model_file(path, arch, num_classes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""
_base_ = [{RESNET20!r}]
model = dict(backbone=dict(arch={arch!r}), head=dict(num_classes={num_classes}))
""")


def test_relative_student_and_teacher_resolve_next_to_the_config(
        tmp_path, monkeypatch):
    configs = tmp_path / 'configs'
    _model_file(configs / 'models' / 'student.py', 'resnet20', 5)
    _model_file(configs / 'teacher.py', 'resnet56', 6)
    # the same names from the working directory are other models: the
    # config's folder wins, as it does for _base_
    work = tmp_path / 'work'
    _model_file(work / 'models' / 'student.py', 'resnet32', 7)
    _model_file(work / 'teacher.py', 'resnet32', 8)
    config = _pair_config(configs, "'models/student.py'")
    monkeypatch.chdir(work)
    cfg = load_config(config)
    assert cfg.model.student.backbone.arch == 'resnet20'
    assert cfg.model.student.head.num_classes == 10  # the override
    assert cfg.model.teacher.backbone.arch == 'resnet56'
    assert cfg.model.teacher.head.num_classes == 6


def test_relative_path_found_only_from_the_working_directory_still_loads(
        tmp_path, monkeypatch):
    _model_file(tmp_path / 'work' / 'teacher.py', 'resnet32', 8)
    _model_file(tmp_path / 'work' / 'student.py', 'resnet20', 3)
    config = _pair_config(tmp_path / 'configs', "'student.py'")
    monkeypatch.chdir(tmp_path / 'work')
    cfg = load_config(config)
    assert cfg.model.teacher.backbone.arch == 'resnet32'
    assert cfg.model.student.backbone.arch == 'resnet20'


def test_relative_path_found_nowhere_names_both_places(tmp_path,
                                                       monkeypatch):
    config = _pair_config(tmp_path / 'configs', f'{RESNET20!r}',
                          "'missing/teacher.py'")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        load_config(config)
    message = str(info.value)
    assert message.startswith('teacher: config file not found: ')
    assert str(tmp_path / 'configs' / 'missing' / 'teacher.py') in message
    assert str(tmp_path / 'missing' / 'teacher.py') in message

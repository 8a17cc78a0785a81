"""tools/test.py checks the checkpoint against the model it evaluates
(student / teacher / plain model, every key and shape) before the Runner
runs, evaluates a distiller's teacher with --teacher and warns when a
student scores above the teacher scored that way.

Detection: tiny Faster R-CNN R18 student and R50 teacher (the repository's
configs shrunk as in tests/test_e2e/test_detection_e2e.py) with untrained
weights; classification: the tiny CIFAR data and its trained ResNet-56
teacher. tools/test.py runs in this process (saves a start per call).
"""
import json
import os.path as osp
import runpy
import sys

import pytest
import torch

from tests.test_e2e.test_detection_e2e import (SHRINK, STUDENT_CFG,
                                               TINY_MODEL, write_config)
from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import REPO, cifar_options, last_metrics

TEACHER_CFG = 'configs/coco/faster_rcnn/faster-rcnn_r50_fpn_ms-1x_coco.py'
KDPP_CFG = 'configs/coco/kd++/kd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py'
CIFAR_KDPP = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
RESNET56 = 'configs/_base_/models/cifar100/resnet56.py'


def run_test_tool(capsys, *args):
    """``tools/test.py ARGS`` in this process: (exit status, stdout,
    stderr)."""
    argv = sys.argv
    sys.argv = ['test.py', *map(str, args)]
    code = 0
    capsys.readouterr()
    try:
        runpy.run_path(osp.join(REPO, 'tools', 'test.py'),
                       run_name='__main__')
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


def error_line(capsys, *args):
    """The one ``error:`` line of a refused run (exit status 1)."""
    code, out, err = run_test_tool(capsys, *args)
    assert code == 1, out[-2000:] + err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.startswith('error: ')]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def built_state_dict(config, seed=0):
    """State dict of the model of a plain config, randomly initialised."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from nd_mmdet.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(seed)
    return MODELS.build(cfg.model).state_dict()


@pytest.fixture(scope='module')
def det(tmp_path_factory):
    """Tiny data, plain student / teacher configs, a distiller config and
    checkpoints: plain student, plain teacher (the config's teacher_ckpt),
    distiller, 0-byte, truncated."""
    tmp = tmp_path_factory.mktemp('test_tool')
    data = write_tiny_coco(str(tmp / 'coco'), num_train=2, num_val=2)
    shrink = SHRINK.format(iters=1, root=data['root'], classes=CLASSES)
    tiny = TINY_MODEL.format(num_classes=len(CLASSES))
    student = write_config(tmp / 'student.py', STUDENT_CFG, tiny + shrink)
    teacher = write_config(tmp / 'teacher.py', TEACHER_CFG, tiny + shrink)
    ckpts = dict(student=tmp / 'student.pth', teacher=tmp / 'teacher.pth',
                 distiller=tmp / 'distiller.pth', empty=tmp / 'empty.pth',
                 truncated=tmp / 'truncated.pth')
    student_sd = built_state_dict(student)
    torch.save(dict(state_dict=student_sd, meta={}), ckpts['student'])
    torch.save(dict(state_dict=built_state_dict(teacher), meta={}),
               ckpts['teacher'])
    torch.save(dict(state_dict={'student.' + k: v
                                for k, v in student_sd.items()}, meta={}),
               ckpts['distiller'])
    ckpts['empty'].write_bytes(b'')
    raw = ckpts['student'].read_bytes()
    ckpts['truncated'].write_bytes(raw[:len(raw) // 2])
    distiller = write_config(tmp / 'kdpp.py', KDPP_CFG, f"""
model = dict(student={student!r}, teacher={teacher!r},
             teacher_ckpt={str(ckpts['teacher'])!r})
""" + shrink)
    return dict(tmp=tmp, student_cfg=student, teacher_cfg=teacher,
                distiller_cfg=distiller,
                **{k: str(v) for k, v in ckpts.items()})


def test_distiller_checkpoint_evaluates_the_student(det, capsys):
    code, out, err = run_test_tool(capsys, det['distiller_cfg'],
                                   det['distiller'], '--work-dir',
                                   det['tmp'] / 'w_distiller')
    assert code == 0, err[-3000:]
    assert 0 <= last_metrics(out + err, 'coco/bbox_mAP') <= 1
    assert 'plain student weights' not in out


@pytest.mark.survived
def test_plain_student_checkpoint_on_distiller_config(det, capsys):
    code, out, err = run_test_tool(capsys, det['distiller_cfg'],
                                   det['student'], '--work-dir',
                                   det['tmp'] / 'w_plain')
    assert code == 0, err[-3000:]
    assert (f'checkpoint {det["student"]} holds plain student weights: '
            'evaluating the student') in out
    assert 0 <= last_metrics(out + err, 'coco/bbox_mAP') <= 1


@pytest.mark.clear_error
def test_teacher_checkpoint_on_distiller_config_names_teacher_flag(
        det, capsys, tmp_path):
    line = error_line(capsys, det['distiller_cfg'], det['teacher'])
    assert f'checkpoint {det["teacher"]} looks like a teacher checkpoint' \
        in line and '--teacher' in line
    # Not the config's teacher_ckpt file, but the teacher's weights.
    copy = tmp_path / 'copy.pth'
    copy.write_bytes(open(det['teacher'], 'rb').read())
    line = error_line(capsys, det['distiller_cfg'], copy)
    assert f'checkpoint {copy} looks like a teacher checkpoint' in line


@pytest.mark.clear_error
def test_distiller_checkpoint_on_plain_config_is_refused(det, capsys):
    line = error_line(capsys, det['student_cfg'], det['distiller'])
    assert f'checkpoint {det["distiller"]} is a distiller checkpoint' in line
    assert 'tools/export_student.py' in line
    assert 'distiller config' in line


@pytest.mark.parametrize('name', ['empty', 'truncated'])
@pytest.mark.clear_error
def test_unreadable_checkpoint_is_refused(det, capsys, name):
    line = error_line(capsys, det['distiller_cfg'], det[name])
    assert f'checkpoint {det[name]} ' in line
    assert 'cannot be read' in line or 'is empty (0 bytes)' in line


@pytest.mark.clear_error
def test_mismatching_checkpoints_are_refused(det, capsys, tmp_path):
    sd = torch.load(det['distiller'], weights_only=True)['state_dict']
    dropped = sorted(sd)[0]
    del sd[dropped]
    partial = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=sd), partial)
    line = error_line(capsys, det['distiller_cfg'], partial)
    assert f'checkpoint {partial} does not match the student' in line
    assert f'1 missing [{dropped[len("student."):]!r}]' in line
    # Plain weights of another model: neither student nor teacher.
    other = tmp_path / 'other.pth'
    torch.save({'backbone.conv1.weight': torch.zeros(1)}, other)
    line = error_line(capsys, det['distiller_cfg'], other)
    assert f'checkpoint {other} holds no weights of the student' in line
    line = error_line(capsys, det['student_cfg'], other)
    assert f'checkpoint {other} does not match the model' in line


def test_cfg_options_reach_a_named_student(det, capsys, tmp_path):
    """model.student is a config path: --cfg-options change it (a 1-class
    student checkpoint is refused without them, evaluated with them)."""
    from mmengine.config import Config
    one_class = tmp_path / 'one_class.py'
    one_class.write_text(f"""
_base_ = [{det['student_cfg']!r}]
model = dict(roi_head=dict(bbox_head=dict(num_classes=1)))
""")
    ckpt = tmp_path / 'one_class.pth'
    torch.save(dict(state_dict=built_state_dict(str(one_class))), ckpt)
    assert isinstance(Config.fromfile(det['distiller_cfg']).model.student,
                      str)
    line = error_line(capsys, det['distiller_cfg'], ckpt)
    assert 'roi_head.bbox_head.fc_cls.weight' in line
    code, out, err = run_test_tool(
        capsys, det['distiller_cfg'], ckpt, '--work-dir', tmp_path,
        '--cfg-options', 'model.student.roi_head.bbox_head.num_classes=1',
        f'test_dataloader.dataset.metainfo.classes=({CLASSES[0]},)')
    assert code == 0, err[-3000:]
    assert 'holds plain student weights' in out


def test_teacher_flag_evaluates_the_teacher(det, capsys):
    work = det['tmp'] / 'w_teacher'
    code, out, err = run_test_tool(capsys, det['distiller_cfg'],
                                   det['teacher'], '--teacher',
                                   '--work-dir', work)
    assert code == 0, err[-3000:]
    scores = json.loads((work / 'teacher_score.json').read_text())
    assert scores['checkpoint'] == det['teacher']
    assert scores['metrics']['coco/bbox_mAP'] == last_metrics(
        out + err, 'coco/bbox_mAP')
    line = error_line(capsys, det['distiller_cfg'], det['distiller'],
                      '--teacher')
    assert f'checkpoint {det["distiller"]} holds "student.*"' in line
    line = error_line(capsys, det['student_cfg'], det['student'],
                      '--teacher')
    assert f'{det["student_cfg"]} is not a distiller config' in line
    line = error_line(capsys, det['distiller_cfg'], det['student'],
                      '--teacher')
    assert f'checkpoint {det["student"]} does not match the teacher' in line


def test_student_above_teacher_warns(tiny_cifar_root, tiny_cifar_teacher,
                                     tmp_path, capsys):
    """Student and teacher both ResNet-56: the trained tiny teacher's
    weights and random ones, each once as the teacher (--teacher) and once
    as the student; the warning comes only when the student is above."""
    config = tmp_path / 'kdpp.py'
    config.write_text(f"""
_base_ = [{osp.join(REPO, CIFAR_KDPP)!r}]
model = dict(student={osp.join(REPO, RESNET56)!r},
             teacher_ckpt={tiny_cifar_teacher!r})
""")
    trained = torch.load(tiny_cifar_teacher, weights_only=False)
    random_ckpt = tmp_path / 'random.pth'
    torch.manual_seed(0)
    random_sd = {k: torch.randn_like(v) if v.is_floating_point() else v
                 for k, v in trained['state_dict'].items()}
    torch.save(dict(state_dict=random_sd), random_ckpt)
    as_student = {}
    for name, sd in (('trained', trained['state_dict']),
                     ('random', random_sd)):
        as_student[name] = tmp_path / f'{name}_distiller.pth'
        torch.save(dict(state_dict={'student.' + k: v
                                    for k, v in sd.items()}),
                   as_student[name])
    opts = cifar_options(tiny_cifar_root)
    work = ['--work-dir', tmp_path / 'work']

    def top1(*args):
        code, out, err = run_test_tool(capsys, config, *args, *work, *opts)
        assert code == 0, err[-3000:]
        return last_metrics(out + err), err

    low, _ = top1(random_ckpt, '--teacher')
    high, err = top1(as_student['trained'])
    assert high > low
    warnings = [ln for ln in err.splitlines() if ln.startswith('warning:')]
    assert len(warnings) == 1
    assert (f'warning: the student scores accuracy/top1={high:.4f}, above '
            f'its teacher ({low:.4f} with {random_ckpt}') in warnings[0]

    assert top1(tiny_cifar_teacher, '--teacher')[0] == high
    _, err = top1(as_student['random'])
    assert 'warning:' not in err

"""Fault catalogue on the one-stage dense path (tiny RetinaNet KD++ through
tools/train.py in this process): damaged or foreign teacher checkpoints,
foreign centre files, stale centre caches, a missing centre hook, and a
resume from the teacher's checkpoint."""
import pytest
import torch

from tests.test_e2e.test_dense_e2e import CASES, TINY_MODEL
from tests.test_e2e.test_detection_e2e import SHRINK, write_config
from tests.test_reliability.tool_call import assert_one_error
from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import run_tool

RETINANET = CASES['retinanet']


@pytest.fixture(scope='module')
def dense(tmp_path_factory):
    """Tiny data, a tiny RetinaNet config, its 2-iteration checkpoint (the
    teacher) and a KD++ config writer."""
    tmp = tmp_path_factory.mktemp('dense_faults')
    data = write_tiny_coco(str(tmp / 'coco'), num_train=8, num_val=4)
    shrink = dict(root=data['root'], classes=CLASSES)
    plain = write_config(
        tmp / 'retinanet_tiny.py', RETINANET['student'],
        TINY_MODEL.format(backbone='', neck='', num_classes=len(CLASSES)) +
        SHRINK.format(iters=2, **shrink))
    run_tool('train.py', plain, '--work-dir', tmp / 'teacher')

    def kdpp(teacher_ckpt, hooks="[dict(type='nd_mmdet.ClassCentersHook', "
             'max_iters=2)]', name='kdpp.py'):
        return write_config(tmp / name, RETINANET['kdpp'], f"""
model = dict(student={plain!r}, teacher={plain!r},
             teacher_ckpt={str(teacher_ckpt)!r})
custom_hooks = {hooks}
""" + SHRINK.format(iters=1, **shrink))

    return dict(tmp=tmp, plain=plain, kdpp=kdpp,
                teacher=tmp / 'teacher' / 'iter_2.pth')


@pytest.mark.clear_error
@pytest.mark.parametrize('damage', ['empty', 'truncated', 'another model'])
def test_bad_teacher_checkpoint(dense, tool, tmp_path, damage,
                                tiny_cifar_teacher):
    bad = tmp_path / 'teacher.pth'
    if damage == 'empty':
        bad.write_bytes(b'')
    elif damage == 'truncated':
        bad.write_bytes(dense['teacher'].read_bytes()[:5000])
    else:
        bad.write_bytes(open(tiny_cifar_teacher, 'rb').read())
    result = tool('train.py', dense['kdpp'](bad, name=f'{damage}.py'),
                  '--work-dir', tmp_path / 'run')
    assert_one_error(result, bad)


@pytest.mark.clear_error
def test_centre_file_of_another_teacher_is_refused(dense, tool, tmp_path):
    from nd_mmdet.engine import save_class_centers
    given = tmp_path / 'centres.pth'
    save_class_centers(str(given), torch.rand(len(CLASSES), 64) + 1,
                       torch.ones(len(CLASSES)), 'another-teacher')
    hooks = ("[dict(type='nd_mmdet.ClassCentersHook', "
             f'centers_file={str(given)!r})]')
    result = tool('train.py',
                  dense['kdpp'](dense['teacher'], hooks, 'given.py'),
                  '--work-dir', tmp_path / 'run')
    assert_one_error(result, given, 'another teacher checkpoint')


@pytest.mark.survived
def test_stale_centre_cache_is_recomputed_like_a_clean_run(dense, tool,
                                                           tmp_path):
    from nd_mmdet.engine import save_class_centers
    config = dense['kdpp'](dense['teacher'])
    assert tool('train.py', config, '--work-dir', tmp_path / 'clean')[0] == 0
    stale = tmp_path / 'stale'
    stale.mkdir()
    save_class_centers(str(stale / 'class_centers.pth'),
                       torch.full((len(CLASSES), 64), float('nan')),
                       torch.ones(len(CLASSES)), 'another-teacher')
    assert tool('train.py', config, '--work-dir', stale)[0] == 0
    clean = torch.load(tmp_path / 'clean' / 'class_centers.pth')
    again = torch.load(stale / 'class_centers.pth')
    torch.testing.assert_close(again['centers'], clean['centers'])
    assert torch.equal(again['counts'], clean['counts'])
    for name in ('clean', 'stale'):
        assert (tmp_path / name / 'iter_1.pth').is_file()


@pytest.mark.clear_error
def test_nd_without_the_centre_hook(dense, tool, tmp_path):
    result = tool('train.py', dense['kdpp'](dense['teacher'], '[]',
                                            'nohook.py'),
                  '--work-dir', tmp_path)
    assert_one_error(result, 'nd_mmdet.ClassCentersHook')


@pytest.mark.clear_error
def test_resume_from_the_teachers_checkpoint(dense, tool, tmp_path):
    result = tool('train.py', dense['kdpp'](dense['teacher']),
                  '--work-dir', tmp_path, '--resume', dense['teacher'])
    assert_one_error(result, dense['teacher'], 'without the distiller')

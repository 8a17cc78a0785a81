"""tools/train.py, tools/test.py and tools/compute_class_centers.py on tiny
CIFAR-format data: a teacher, KD++ on it, evaluation, resume, errors."""
import hashlib
import os.path as osp

import pytest
import torch

from tests.tools_runner import cifar_options, last_metrics, run_tool

TEACHER_CFG = 'configs/cifar100/classifiers/resnet56_cifar100.py'
KDPP_CFG = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def teacher(tiny_cifar_teacher):
    return tiny_cifar_teacher


def test_classifier_test_and_resume(teacher, tiny_cifar_root, tmp_path):
    out = run_tool('test.py', TEACHER_CFG, teacher, '--work-dir', tmp_path,
                   '--out', tmp_path / 'preds.pkl',
                   *cifar_options(tiny_cifar_root)).stdout
    assert 0 <= last_metrics(out, 'accuracy/top1') <= 100
    assert 0 <= last_metrics(out, 'accuracy/top5') <= 100
    assert osp.isfile(tmp_path / 'preds.pkl')
    # Resume from epoch 1 and run to epoch 2 (in another work dir: the
    # teacher checkpoint is shared with other tests).
    log = run_tool('train.py', TEACHER_CFG, '--work-dir', tmp_path,
                   '--resume', teacher,
                   *cifar_options(tiny_cifar_root, epochs=2)).stdout
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [2]' in log and 'Epoch(train) [1]' not in log
    assert torch.load(tmp_path / 'epoch_2.pth',
                      weights_only=False)['meta']['epoch'] == 2


def test_kdpp_trains_evaluates_and_keeps_teacher(teacher, tiny_cifar_root,
                                                 tmp_path):
    teacher_sha = sha(teacher)
    log = run_tool('train.py', KDPP_CFG, '--work-dir', tmp_path,
                   *cifar_options(tiny_cifar_root),
                   f'model.teacher_ckpt={teacher}').stdout
    assert 'class centres: ' in log and 'saved to' in log
    for name in ('loss_kd', 'loss_nd', 'loss_kd_warmup: 0.0500'):
        assert name in log
    ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    keys = list(ckpt['state_dict'])
    assert keys and all(k.startswith('student.') for k in keys)
    assert sha(teacher) == teacher_sha
    centres = torch.load(tmp_path / 'class_centers.pth', weights_only=True)
    assert centres['centers'].shape == (100, 64)
    assert centres['counts'][:4].tolist() == [16, 16, 16, 16]

    out = run_tool('test.py', KDPP_CFG, tmp_path / 'epoch_1.pth',
                   *cifar_options(tiny_cifar_root)).stdout
    assert 0 <= last_metrics(out) <= 100


@pytest.mark.parametrize('method,base_loss', [('dkd++', 'loss_dkd'),
                                              ('dist++', 'loss_dist'),
                                              ('reviewkd++', 'loss_hcl')])
def test_other_methods_train_and_evaluate(teacher, tiny_cifar_root, tmp_path,
                                          method, base_loss):
    config = (f'configs/cifar100/{method}/'
              f'{method}_resnet56-resnet20_cifar100.py')
    log = run_tool('train.py', config, '--work-dir', tmp_path,
                   *cifar_options(tiny_cifar_root),
                   f'model.teacher_ckpt={teacher}').stdout
    for name in (base_loss, 'loss_nd', 'loss_cls', f'{base_loss}_warmup'):
        assert name + ':' in log
    keys = list(torch.load(tmp_path / 'epoch_1.pth',
                           weights_only=False)['state_dict'])
    assert keys and all(k.startswith(('student.', 'connectors.'))
                        for k in keys)
    out = run_tool('test.py', config, tmp_path / 'epoch_1.pth',
                   *cifar_options(tiny_cifar_root)).stdout
    assert 0 <= last_metrics(out) <= 100


def test_test_time_augmentation(teacher, tiny_cifar_root, tmp_path):
    line = one_error_line(run_tool('test.py', TEACHER_CFG, teacher, '--tta',
                                   *cifar_options(tiny_cifar_root),
                                   check=False))
    assert '--tta: the config defines no tta_model / tta_pipeline' in line
    config = tmp_path / 'tta.py'
    config.write_text(f'''
_base_ = [{osp.abspath(TEACHER_CFG)!r}]
tta_model = dict(type='AverageClsScoreTTA')
tta_pipeline = [dict(type='TestTimeAug', transforms=[
    [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
    [dict(type='PackInputs')]])]
''')
    out = run_tool('test.py', config, teacher, '--tta',
                   *cifar_options(tiny_cifar_root)).stdout
    assert 'AverageClsScoreTTA' in out
    assert 0 <= last_metrics(out) <= 100


def test_compute_class_centers_tool(teacher, tiny_cifar_root, tmp_path):
    out = tmp_path / 'centres.pth'
    log = run_tool('compute_class_centers.py', KDPP_CFG, '--out', out,
                   '--work-dir', tmp_path, *cifar_options(tiny_cifar_root),
                   f'model.teacher_ckpt={teacher}').stdout
    assert 'saved (100, 64) class centres from 64 samples' in log
    data = torch.load(out, weights_only=True)
    assert data['num_classes'] == 100 and data['dim'] == 64
    assert data['teacher_digest'] == sha(teacher)[:16]
    # Training picks the file up instead of recomputing.
    log = run_tool(
        'train.py', KDPP_CFG, '--work-dir', tmp_path / 'run',
        *cifar_options(tiny_cifar_root), f'model.teacher_ckpt={teacher}',
        'custom_hooks.0.centers_file=' + str(out)).stdout
    assert f'class centres: loading {out}' in log


def one_error_line(proc):
    assert proc.returncode == 1, proc.stdout[-3000:]
    errors = [ln for ln in proc.stdout.splitlines()
              if ln.startswith("error: ")]
    assert len(errors) == 1, proc.stdout[-3000:]
    assert 'Traceback' not in proc.stdout
    return errors[0]


def test_bad_config_path():
    line = one_error_line(run_tool('train.py', 'configs/nope.py',
                                   check=False))
    assert 'config file not found: configs/nope.py' in line


def test_missing_checkpoint(tiny_cifar_root, tmp_path):
    line = one_error_line(run_tool('test.py', TEACHER_CFG, tmp_path / 'x.pth',
                                   check=False))
    assert f'checkpoint not found: {tmp_path / "x.pth"}' in line


def test_missing_data_root(tmp_path):
    line = one_error_line(run_tool(
        'train.py', TEACHER_CFG, '--work-dir', tmp_path, '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/absent',
        check=False))
    assert ('train_dataloader.dataset.data_root: directory not found: '
            f'{tmp_path}/absent') in line


def test_missing_teacher_checkpoint(tiny_cifar_root, tmp_path):
    line = one_error_line(run_tool(
        'train.py', KDPP_CFG, '--work-dir', tmp_path,
        *cifar_options(tiny_cifar_root),
        f'model.teacher_ckpt={tmp_path}/teacher.pth', check=False))
    assert f'teacher checkpoint not found: {tmp_path}/teacher.pth' in line

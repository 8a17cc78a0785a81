"""Fault catalogue through tools/train.py (in this process, as the tool
runs): resume from the wrong file, config typos, a missing hook, --amp, a
NaN stop, a copied work dir, and one 2-process DDP case."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest
import torch

from tests.test_reliability.tool_call import assert_one_error
from tests.tools_runner import REPO, cifar_options

KD = 'configs/cifar100/kd/kd_resnet56-resnet20_cifar100.py'
KDPP = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
TEACHER_CFG = 'configs/cifar100/classifiers/resnet56_cifar100.py'


def _train(tool, config, work_dir, root, teacher, *extra, epochs=1):
    options = cifar_options(root, epochs=epochs)
    return tool('train.py', config, '--work-dir', work_dir, *extra,
                *options, f'model.teacher_ckpt={teacher}')


def _damaged(path, kind, teacher):
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'truncated':
        path.write_bytes(open(teacher, 'rb').read()[:4096])
    elif kind == 'exported':
        state = torch.load(teacher, weights_only=False)['state_dict']
        torch.save(dict(state_dict={f'student.{k}': v
                                    for k, v in state.items()}), path)
    elif kind == 'plain classifier':
        shutil.copy(teacher, path)
    return path


@pytest.mark.parametrize('kind,message', [
    ('empty', 'is empty (0 bytes)'),
    ('truncated', 'cannot be read'),
    ('exported', 'no training state'),
    ('plain classifier', "this model's weights"),
    ('missing', 'checkpoint not found'),
])
@pytest.mark.clear_error
def test_resume_from_a_wrong_file_stops_before_training(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path, kind, message):
    ckpt = _damaged(tmp_path / f'{kind}.pth', kind, tiny_cifar_teacher)
    result = _train(tool, KDPP, tmp_path / 'run', tiny_cifar_root,
                    tiny_cifar_teacher, '--resume', ckpt)
    assert_one_error(result, message, ckpt)
    assert not [f for f in os.listdir(tmp_path / 'run')
                if f.endswith('.pth')]


@pytest.mark.parametrize('option,needle', [
    ('model.distill_losses.loss_kd.tempreture=4', 'tempreture'),
    ('custom_hooks.1.warmup_epoch=2', 'warmup_epoch'),
    ('custom_hooks.1.warmup_epochs=0', 'warmup_epochs'),
    ('model.distill_losses.loss_kd.type=KDLos', 'KDLos'),
    ('model.distill_losses.loss_kd.loss_weight=-1', 'loss_weight'),
])
@pytest.mark.clear_error
def test_config_typo_is_one_line(tool, tiny_cifar_root, tiny_cifar_teacher,
                                 tmp_path, option, needle):
    result = tool('train.py', KDPP, '--work-dir', tmp_path,
                  *cifar_options(tiny_cifar_root),
                  f'model.teacher_ckpt={tiny_cifar_teacher}', option)
    assert_one_error(result, needle)


@pytest.mark.clear_error
def test_nd_config_without_the_centre_hook(tool, tiny_cifar_root,
                                           tiny_cifar_teacher, tmp_path):
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher)[0]
    assert result == 0
    result = tool('train.py', KDPP, '--work-dir', tmp_path / 'no_hook',
                  *cifar_options(tiny_cifar_root),
                  f'model.teacher_ckpt={tiny_cifar_teacher}',
                  'custom_hooks=[]')
    assert_one_error(result, "dict(type='nd_mmdet.ClassCentersHook')")


@pytest.mark.clear_error
def test_amp_on_a_cifar_config(tool, tiny_cifar_root, tiny_cifar_teacher,
                               tmp_path):
    """--amp on an optim_wrapper without `type` (the CIFAR configs): with a
    GPU it becomes AmpOptimWrapper; without one, mmengine's AMP cannot run
    and the tool says so in one line before building anything."""
    from mmengine.device import get_device
    result = _train(tool, KD, tmp_path, tiny_cifar_root, tiny_cifar_teacher,
                    '--amp')
    if get_device() == 'cpu':
        assert_one_error(result, '--amp', 'needs a GPU')
        assert not os.path.exists(tmp_path / 'epoch_1.pth')
    else:
        assert result[0] == 0
        ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
        assert 'loss_scaler' in ckpt


@pytest.mark.clear_error
def test_nan_stop_is_one_line_and_keeps_earlier_checkpoints(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path):
    assert _train(tool, KD, tmp_path, tiny_cifar_root,
                  tiny_cifar_teacher)[0] == 0
    before = open(tmp_path / 'epoch_1.pth', 'rb').read()
    result = _train(tool, KD, tmp_path, tiny_cifar_root, tiny_cifar_teacher,
                    '--resume', '--cfg-options',
                    'model.distill_losses.loss_kd.loss_weight=1e38',
                    'optim_wrapper.optimizer.lr=1e30', epochs=3)
    assert_one_error(result, 'is inf', 'iteration')
    assert open(tmp_path / 'epoch_1.pth', 'rb').read() == before


def _sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@pytest.mark.survived
def test_resume_in_a_copied_work_dir_leaves_the_original_intact(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path):
    original, copy = tmp_path / 'a', tmp_path / 'b'
    best = ['default_hooks.checkpoint.save_best=accuracy/top1',
            'default_hooks.checkpoint.rule=greater']
    assert _train(tool, KD, original, tiny_cifar_root, tiny_cifar_teacher,
                  '--cfg-options', *best)[0] == 0
    before = {f: _sha(original / f) for f in os.listdir(original)
              if f.endswith('.pth')}
    assert any(f.startswith('best_') for f in before)
    shutil.copytree(original, copy)
    assert _train(tool, KD, copy, tiny_cifar_root, tiny_cifar_teacher,
                  '--resume', '--cfg-options', *best, epochs=3)[0] == 0
    after = {f: _sha(original / f) for f in os.listdir(original)
             if f.endswith('.pth')}
    assert after == before
    assert (copy / 'epoch_3.pth').exists()
    assert open(copy / 'last_checkpoint').read().startswith(str(copy))


@pytest.mark.clear_error
def test_ddp_resume_from_a_truncated_checkpoint_stops_every_rank(
        tiny_cifar_root, tiny_cifar_teacher, tmp_path):
    from tests.test_e2e.test_ddp import free_port
    ckpt = _damaged(tmp_path / 'epoch_1.pth', 'truncated',
                    tiny_cifar_teacher)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()), MASTER_ADDR='127.0.0.1')
    env.pop('ND_MMDET_TRACEBACK', None)
    proc = subprocess.run(
        ['bash', os.path.join(REPO, 'tools/dist_train.sh'), KD, '2',
         '--work-dir', str(tmp_path / 'ddp'), '--resume', str(ckpt),
         *cifar_options(tiny_cifar_root),
         f'model.teacher_ckpt={tiny_cifar_teacher}'],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=300)
    errors = [line for line in proc.stdout.splitlines()
              if line.startswith('error:')]
    assert proc.returncode != 0
    assert len(errors) == 2 and all(str(ckpt) in e for e in errors), errors


def test_two_runs_in_one_second_do_not_share_a_best_score(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path, monkeypatch):
    """The in-process tool call (this catalogue's harness) forgets the
    runner's named message hub: mmengine names it by config and second, and
    a hub shared with an earlier, better run kept ``best_score`` and so no
    ``best_*.pth`` (a CI failure seen once)."""
    import time

    import mmengine.runner.runner as runner_module
    frozen = time.localtime()
    monkeypatch.setattr(runner_module.time, 'localtime',
                        lambda *args: frozen)
    best = ['default_hooks.checkpoint.save_best=accuracy/top1',
            'default_hooks.checkpoint.rule=greater']
    for name, epochs in (('better', 3), ('second', 1)):
        assert _train(tool, KD, tmp_path / name, tiny_cifar_root,
                      tiny_cifar_teacher, '--cfg-options', *best,
                      epochs=epochs)[0] == 0
    assert any(f.startswith('best_') for f in os.listdir(tmp_path / 'second'))

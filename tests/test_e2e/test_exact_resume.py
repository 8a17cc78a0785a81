"""A distillation run killed with SIGKILL and resumed with --resume ends
with the same weights as an uninterrupted run (student, projector,
optimizer state, KD warm-up)."""
import os
import signal
import subprocess
import sys
import time

import torch

from tests.tools_runner import REPO, cifar_options, run_tool

KDPP_CFG = os.path.join(REPO, 'configs/cifar100/kd++/'
                        'kd++_resnet56-resnet20_cifar100.py')


def write_config(path):
    """KD++ with a projector (connector state must resume too), a 2-epoch
    warm-up (so the warm-up factor changes across the kill) and the reseed
    hook; batch 4 so an epoch lasts long enough to be killed inside."""
    path.write_text(f'''
_base_ = [{KDPP_CFG!r}]
model = dict(connectors=dict(student_embed=dict(
    type='EmbeddingProjector', in_channels=64, out_channels=64)))
custom_hooks = [
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(type='nd_mmdet.DistillLossWarmupHook', loss_names=('loss_kd', ),
         warmup_epochs=2),
]
randomness = dict(seed=0, deterministic=True)
default_hooks = dict(checkpoint=dict(save_best=None, max_keep_ckpts=-1))
''')
    return str(path)


def options(data_root, teacher):
    return [*cifar_options(data_root, epochs=3, batch_size=4),
            f'model.teacher_ckpt={teacher}']


def test_sigkill_then_resume_matches_uninterrupted(tiny_cifar_root,
                                                   tiny_cifar_teacher,
                                                   tmp_path):
    cfg = write_config(tmp_path / 'cfg.py')
    opts = options(tiny_cifar_root, tiny_cifar_teacher)
    run_tool('train.py', cfg, '--work-dir', tmp_path / 'full', *opts)

    killed = tmp_path / 'killed'
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'tools/train.py'), cfg,
         '--work-dir', str(killed), *opts],
        cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS='1'),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / 'epoch_1.pth').exists():
        assert proc.poll() is None, 'training ended before epoch 1'
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # inside epoch 2 (or its validation)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / 'epoch_3.pth').exists()

    log = run_tool('train.py', cfg, '--work-dir', killed, '--resume',
                   *opts).stdout
    assert 'resumed epoch: ' in log

    full = torch.load(tmp_path / 'full' / 'epoch_3.pth', weights_only=False)
    resumed = torch.load(killed / 'epoch_3.pth', weights_only=False)
    assert any(k.startswith('connectors.') for k in full['state_dict'])
    assert full['state_dict'].keys() == resumed['state_dict'].keys()
    for key, value in full['state_dict'].items():
        assert torch.equal(value, resumed['state_dict'][key]), key
    for a, b in zip(full['optimizer']['state'].values(),
                    resumed['optimizer']['state'].values()):
        assert torch.equal(a['momentum_buffer'], b['momentum_buffer'])

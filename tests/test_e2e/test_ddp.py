"""tools/dist_train.sh with 2 CPU processes (gloo, loopback) against one
process with the same global batch: same weights after an epoch of KD++, and
the same class centres."""
import os
import socket
import subprocess
import sys

import torch

from tests.tools_runner import REPO, cifar_options, run_tool

KDPP_CFG = os.path.join(REPO, 'configs/cifar100/kd++/'
                        'kd++_resnet56-resnet20_cifar100.py')
CUSTOM = os.path.join(REPO, 'tests', 'custom_modules')


def write_config(path):
    """KD++ with a BN-free student from custom_imports (per-rank BN batch
    statistics would differ from one process's) and no random
    augmentation; the teacher keeps its BN (eval mode: running stats)."""
    path.write_text(f'''
_base_ = [{KDPP_CFG!r}]
custom_imports = dict(imports=['nd_mmdet', 'tiny_nobn_cnn'])
model = dict(student=dict(
    _delete_=True,
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.TinyNoBNCNN', width=64),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=64,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0))))
train_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs')]))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
default_hooks = dict(checkpoint=dict(save_best=None))
''')
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_ddp_matches_one_process(tiny_cifar_root,
                                             tiny_cifar_teacher, tmp_path,
                                             monkeypatch):
    monkeypatch.setenv('PYTHONPATH', CUSTOM)
    cfg = write_config(tmp_path / 'cfg.py')
    common = [f'model.teacher_ckpt={tiny_cifar_teacher}',
              'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    run_tool('train.py', cfg, '--work-dir', tmp_path / 'single',
             *cifar_options(tiny_cifar_root, batch_size=16), *common)

    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()), MASTER_ADDR='127.0.0.1')
    proc = subprocess.run(
        ['bash', os.path.join(REPO, 'tools/dist_train.sh'), cfg, '2',
         '--work-dir', str(tmp_path / 'ddp'),
         *cifar_options(tiny_cifar_root, batch_size=8), *common],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'Distributed training is not used' not in proc.stdout

    single = torch.load(tmp_path / 'single' / 'epoch_1.pth',
                        weights_only=False)['state_dict']
    ddp = torch.load(tmp_path / 'ddp' / 'epoch_1.pth',
                     weights_only=False)['state_dict']
    assert single.keys() == ddp.keys()
    # Tolerance: float32 reduction order (all-reduce of two half-batch
    # gradients vs one full-batch backward) over 4 SGD steps.
    for key, value in single.items():
        torch.testing.assert_close(ddp[key], value, rtol=1e-4, atol=1e-5,
                                   msg=key)
    before = torch.load(tmp_path / 'single' / 'class_centers.pth',
                        weights_only=True)
    after = torch.load(tmp_path / 'ddp' / 'class_centers.pth',
                       weights_only=True)
    assert torch.equal(before['counts'], after['counts'])
    torch.testing.assert_close(after['centers'], before['centers'],
                               rtol=1e-5, atol=1e-6)

"""Exact resume for detection: the repository's RetinaNet KD++ config
(binary KD at the positives and at randomly sampled background anchors,
ND with a class-centre pre-pass, ReseedPerEpochHook from its _base_) on a
tiny RetinaNet and the tiny COCO data, trained 2 epochs straight and 1 epoch
+ ``--resume``: the second epoch logs the same losses and ends with the
same weights and optimizer state.

Without the per-epoch reseed the resumed run differs: it draws its flips,
resizes and background samples from the seed (the pre-pass does not run
again, the centres are loaded), the straight run from what epoch 1 left.
"""
import re

import torch

from tests.test_e2e.test_dense_e2e import CASES, TINY_MODEL
from tests.test_e2e.test_detection_e2e import SHRINK, write_config
from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import run_tool

#: Appended after SHRINK: an epoch loop (2 iterations an epoch), one
#: checkpoint per epoch, deterministic algorithms.
EPOCHS = """
train_dataloader['sampler'] = dict(_delete_=True, type='DefaultSampler',
                                   shuffle=True)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2,
                 val_interval=10)
default_hooks['checkpoint'] = dict(by_epoch=True, interval=1,
                                   max_keep_ckpts=-1, save_best=None)
log_processor = dict(by_epoch=True)
randomness = dict(seed=0, deterministic=True)
"""


def epoch_losses(log, epoch):
    """The loss values of every logged iteration of ``epoch``."""
    rows = [line for line in log.splitlines()
            if f'Epoch(train)  [{epoch}]' in line
            or f'Epoch(train) [{epoch}]' in line]
    return [re.findall(r'(loss\w*): (\S+)', row) for row in rows]


def test_one_epoch_then_resume_matches_two_epochs(tmp_path):
    torch.set_num_threads(1)
    data = write_tiny_coco(str(tmp_path / 'coco'), num_train=4, num_val=1)
    shrink = SHRINK.format(iters=1, root=data['root'], classes=CLASSES)
    case = CASES['retinanet']
    student = write_config(
        tmp_path / 'retinanet_tiny.py', case['student'],
        TINY_MODEL.format(backbone='', neck='', num_classes=len(CLASSES)) +
        shrink)
    # an untrained teacher: the losses only need its outputs
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from nd_mmdet.registry import MODELS
    init_default_scope('mmdet')
    torch.manual_seed(1)
    teacher = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=MODELS.build(
        Config.fromfile(student).model).state_dict()), teacher)
    config = write_config(tmp_path / 'kdpp_tiny.py', case['kdpp'], f"""
model = dict(student={student!r}, teacher={student!r},
             teacher_ckpt={str(teacher)!r})
""" + shrink + EPOCHS)
    assert 'nd_mmdet.ReseedPerEpochHook' in [
        h['type'] for h in Config.fromfile(config).custom_hooks]

    full = run_tool('train.py', config, '--work-dir', tmp_path / 'full').stdout
    part = tmp_path / 'part'
    run_tool('train.py', config, '--work-dir', part, '--cfg-options',
             'train_cfg.max_epochs=1')
    assert (part / 'epoch_1.pth').exists()
    assert not (part / 'epoch_2.pth').exists()
    resumed = run_tool('train.py', config, '--work-dir', part,
                       '--resume').stdout
    assert 'resumed epoch: 1' in resumed
    assert 'class centres: loading' in resumed

    losses = epoch_losses(full, 2)
    assert losses and dict(losses[0]).keys() >= {'loss_kd', 'loss_nd'}
    assert epoch_losses(resumed, 2) == losses
    a = torch.load(tmp_path / 'full' / 'epoch_2.pth', weights_only=False)
    b = torch.load(part / 'epoch_2.pth', weights_only=False)
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for x, y in zip(a['optimizer']['state'].values(),
                    b['optimizer']['state'].values()):
        assert torch.equal(x['momentum_buffer'], y['momentum_buffer'])

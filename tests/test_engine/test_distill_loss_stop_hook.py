"""DistillLossStopHook: losses multiplied by 0 from the stop epoch on,
after the warm-up hook; unknown names and bad arguments refused."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

from nd_mmdet.engine.hooks import DistillLossStopHook, DistillLossWarmupHook

torch.set_num_threads(1)


class FakeDistiller(nn.Module):

    def __init__(self):
        super().__init__()
        self.distill_losses = nn.ModuleDict(
            dict(loss_pkd=nn.Identity(), loss_nd=nn.Identity()))
        self.loss_scales = {}


def runner(model, epoch=0, iteration=0):
    return SimpleNamespace(model=model, epoch=epoch, iter=iteration,
                           message_hub=MessageHub.get_current_instance())


def test_zero_from_stop_epoch_on_every_loss_by_default():
    model = FakeDistiller()
    hook = DistillLossStopHook(stop_epoch=280)
    hook.before_train(runner(model))
    assert hook.loss_names == ('loss_pkd', 'loss_nd')
    hook.before_train_iter(runner(model, epoch=279), 0)
    assert model.loss_scales == {}
    hook.before_train_iter(runner(model, epoch=280), 0)
    assert model.loss_scales == dict(loss_pkd=0.0, loss_nd=0.0)


def test_runs_after_the_warmup_hook():
    from mmengine.runner.priority import get_priority

    # a larger number runs later
    assert get_priority(DistillLossStopHook.priority) > \
        get_priority(DistillLossWarmupHook.priority)
    model = FakeDistiller()
    warm = DistillLossWarmupHook(loss_names=('loss_pkd', ), warmup_epochs=5)
    stop = DistillLossStopHook(stop_epoch=2, loss_names=('loss_pkd', ))
    for hook in (warm, stop):
        hook.before_train(runner(model))
    for hook in (warm, stop):  # the runner calls them in priority order
        hook.before_train_iter(runner(model, epoch=3), 0)
    assert model.loss_scales == dict(loss_pkd=0.0)


def test_by_iteration():
    model = FakeDistiller()
    hook = DistillLossStopHook(by_epoch=False, stop_iter=10,
                               loss_names=('loss_nd', ))
    hook.before_train(runner(model))
    hook.before_train_iter(runner(model, iteration=9), 0)
    assert model.loss_scales == {}
    hook.before_train_iter(runner(model, iteration=10), 0)
    assert model.loss_scales == dict(loss_nd=0.0)


def test_errors():
    with pytest.raises(ValueError, match='stop_epoch must be an int >= 0'):
        DistillLossStopHook()
    with pytest.raises(ValueError, match='stop_iter must be an int'):
        DistillLossStopHook(by_epoch=False, stop_iter=-1)
    hook = DistillLossStopHook(stop_epoch=1, loss_names=('loss_kd', ))
    with pytest.raises(ValueError, match=r"\['loss_kd'\] are not "
                       'distillation losses'):
        hook.before_train(runner(FakeDistiller()))

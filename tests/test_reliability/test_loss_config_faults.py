"""A loss argument that makes training silently wrong - a negative weight
(the optimiser then maximises the loss), a temperature <= 0, NaN or inf -
is refused when the loss is built, with one message naming the argument
and the value; tools/train.py reports it before the Runner is built,
naming the key in ``model.distill_losses`` (issue 15)."""
import math

import pytest
import torch
from mmengine.config import Config

from nd_mmdet.models.losses import (BinaryKDLoss, CWDLoss, DISTLoss, DKDLoss,
                                    HCLLoss, KDLoss, NDLoss, PKDLoss)
from nd_mmdet.utils.preflight import PreflightError, check_distill_losses
from tests.tools_runner import cifar_options, run_tool

KDPP_CFG = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
LOSSES = (KDLoss, BinaryKDLoss, DKDLoss, DISTLoss, NDLoss, HCLLoss, PKDLoss,
          CWDLoss)

#: (loss, argument, bad value, what the message says the rule is)
FAULTS = [
    (KDLoss, 'temperature', 0.0, '> 0'),
    (KDLoss, 'temperature', -4.0, '> 0'),
    (KDLoss, 'temperature', math.inf, '> 0'),
    (KDLoss, 'temperature', math.nan, '> 0'),
    (KDLoss, 'loss_weight', -1.0, '>= 0'),
    (KDLoss, 'loss_weight', '1.0', '>= 0'),   # a quoted --cfg-options value
    (BinaryKDLoss, 'temperature', 0, '> 0'),
    (BinaryKDLoss, 'loss_weight', -0.5, '>= 0'),
    (DKDLoss, 'alpha', -1.0, '>= 0'),
    (DKDLoss, 'beta', -8.0, '>= 0'),
    (DKDLoss, 'temperature', -4.0, '> 0'),
    (DKDLoss, 'loss_weight', math.nan, '>= 0'),
    (DISTLoss, 'beta', -1.0, '>= 0'),
    (DISTLoss, 'gamma', -2.0, '>= 0'),
    (DISTLoss, 'tau', 0.0, '> 0'),
    (DISTLoss, 'eps', 0.0, '> 0'),
    (DISTLoss, 'loss_weight', -math.inf, '>= 0'),
    (NDLoss, 'loss_weight', -2.0, '>= 0'),
    (NDLoss, 'loss_weight', True, '>= 0'),
    (NDLoss, 'eps', -1e-6, '> 0'),
    (HCLLoss, 'loss_weight', -1.0, '>= 0'),
    (PKDLoss, 'loss_weight', -6.0, '>= 0'),
    (CWDLoss, 'tau', -1.0, '> 0'),
    (CWDLoss, 'loss_weight', None, '>= 0'),
]


def fault_id(fault):
    return f'{fault[0].__name__}-{fault[1]}={fault[2]!r}'


@pytest.mark.parametrize('loss,arg,value,rule', FAULTS,
                         ids=map(fault_id, FAULTS))
@pytest.mark.clear_error
def test_loss_refuses_bad_argument(loss, arg, value, rule):
    with pytest.raises(ValueError) as err:
        loss(**{arg: value})
    assert str(err.value) == \
        f'{arg} must be a finite number {rule}, got {value!r}'


def distiller_cfg(**losses):
    return Config(dict(model=dict(type='nd_mmdet.ClassificationDistiller',
                                  distill_losses=losses)))


@pytest.mark.parametrize('loss,arg,value,rule', FAULTS[::4],
                         ids=map(fault_id, FAULTS[::4]))
@pytest.mark.clear_error
def test_preflight_names_the_loss_key(loss, arg, value, rule):
    cfg = distiller_cfg(loss_nd=dict(type='NDLoss'),
                        loss_x=dict(type=f'nd_mmdet.{loss.__name__}',
                                    **{arg: value}))
    with pytest.raises(PreflightError) as err:
        check_distill_losses(cfg)
    assert str(err.value) == (
        f'model.distill_losses.loss_x ({loss.__name__}): {arg} '
        f'must be a finite number {rule}, got {value!r}')


@pytest.mark.clear_error
def test_preflight_names_a_misspelled_argument():
    cfg = distiller_cfg(loss_kd=dict(type='KDLoss', temprature=4.0))
    with pytest.raises(PreflightError, match=r"model\.distill_losses\."
                       r"loss_kd \(KDLoss\): .*unexpected keyword argument "
                       r"'temprature'"):
        check_distill_losses(cfg)


@pytest.mark.survived
def test_zero_weights_are_accepted():
    """0 switches a loss off (the warm-up hook starts there): allowed, and
    the loss is then exactly 0."""
    torch.manual_seed(0)
    s, t = torch.randn(4, 5), torch.randn(4, 5)
    labels = torch.tensor([0, 1, 2, 3])
    assert KDLoss(loss_weight=0)(s, t) == 0
    assert DKDLoss(alpha=0, beta=0)(s, t, labels) == 0
    assert DISTLoss(beta=0, gamma=0)(s, t) == 0
    for loss in LOSSES:
        assert loss(loss_weight=0.0).loss_weight == 0.0


@pytest.mark.survived
def test_valid_losses_and_unknown_types_pass_the_preflight():
    """Defaults build; a type that is not one of ours is left to the
    distiller (which lists close names)."""
    cfg = distiller_cfg(**{f'loss_{i}': dict(type=loss.__name__)
                           for i, loss in enumerate(LOSSES)},
                        loss_custom=dict(type='MyOwnLoss', weight=-1))
    check_distill_losses(cfg)


@pytest.mark.clear_error
def test_train_tool_stops_on_negative_weight(tiny_cifar_root, tmp_path):
    proc = run_tool(
        'train.py', KDPP_CFG,
        '--work-dir', tmp_path, *cifar_options(tiny_cifar_root),
        'model.distill_losses.loss_kd.loss_weight=-0.9', check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('error')]
    assert proc.returncode == 1 and lines == [
        'error: model.distill_losses.loss_kd (KDLoss): loss_weight must be a '
        'finite number >= 0, got -0.9 (ND_MMDET_TRACEBACK=1 shows the '
        'traceback)'], proc.stdout[-3000:]
    assert not list(tmp_path.rglob('*.log'))  # stopped before the Runner

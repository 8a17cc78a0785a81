"""tools/check_env.py: its CPU half (one training iteration of each
distiller kind, run twice and identical; teacher on the device, in eval,
frozen; the step changes the student) in every suite, the clean skip
without CUDA, the loss comparison, and the whole check on a GPU (marker
``gpu``, skipped without CUDA)."""
import math

import pytest
import torch

from tests.test_reliability.tool_call import load_tool
from tests.tools_runner import run_tool

KINDS = ('classification', 'two-stage', 'dense', 'neck')


def result_lines(out):
    return {line.split(' [', 1)[0]: line for line in out.splitlines()
            if line.split(' [', 1)[0] in KINDS}


def test_cpu_half_runs_every_distiller_kind():
    proc = run_tool('check_env.py', '--device', 'cpu')
    lines = result_lines(proc.stdout)
    assert sorted(lines) == sorted(KINDS), proc.stdout[-3000:]
    for kind, line in lines.items():
        assert line.startswith(f'{kind} [cpu]: loss ')
        assert line.endswith(': ok'), line
        # the same iteration twice gives the same total loss
        got, cpu = line.split('loss ', 1)[1].split(' (CPU ')
        assert got == cpu.split(')')[0]
    assert 'check_env: all checks passed' in proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason='CUDA is available')
def test_without_cuda_the_device_half_is_skipped_cleanly():
    proc = run_tool('check_env.py', '--kinds', 'classification')
    assert 'check_env: skipped cuda: no CUDA device' in proc.stdout
    assert list(result_lines(proc.stdout)) == ['classification']
    assert 'all checks passed' in proc.stdout


def test_loss_comparison():
    tool = load_tool('check_env.py')
    # |got - want| <= atol + rtol * |want|: 1e-4 + 1e-3 * 1.0 = 1.1e-3
    assert tool.close(1.0005, 1.0, 1e-3, 1e-4)
    assert not tool.close(1.002, 1.0, 1e-3, 1e-4)
    assert not tool.close(math.nan, 1.0, 1e-3, 1e-4)
    want = dict(loss=2.0, loss_kd=0.5, loss_nd=1.0)
    got = dict(loss=2.001, loss_kd=0.6)
    assert tool.compare_losses(got, want, (1e-3, 1e-4)) == ['loss_kd',
                                                             'loss_nd']


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_whole_check_on_cuda():
    proc = run_tool('check_env.py', check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith('mmcv ops on cuda: ok') for line in lines)
    for kind in KINDS:
        assert any(line.startswith(f'{kind} [cuda]: ') and
                   line.endswith(': ok') for line in lines), kind
        assert any(line.startswith(f'{kind} [cuda amp]: ') for line in lines)

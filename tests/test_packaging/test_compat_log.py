"""Each workaround of nd_mmdet.compat is logged when applied (one INFO line
of the ``nd_mmdet`` logger naming it and its off switch), as
docs/get_started.md says, and the off switches work."""
import os
import subprocess
import sys

from tests.tools_runner import REPO

SHOW = ('import logging; logging.basicConfig(level=logging.INFO, '
        'format="%(name)s %(levelname)s %(message)s"); import nd_mmdet; '
        'print("APPLIED", nd_mmdet.compat.APPLIED)')


def _import_nd_mmdet(**env):
    proc = subprocess.run(
        [sys.executable, '-c', SHOW], cwd=REPO, capture_output=True,
        text=True, env=dict(os.environ, **env), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    applied = eval(proc.stdout.split('APPLIED', 1)[1])
    lines = [line for line in proc.stderr.splitlines()
             if line.startswith('nd_mmdet INFO nd_mmdet.compat: ')]
    return applied, lines


def test_every_applied_workaround_is_logged_once():
    applied, lines = _import_nd_mmdet()
    assert {'atomic-local-put', 'checkpoint-deletion-guard'} <= set(applied)
    assert len(lines) == len(applied)
    for name, line in zip(applied, lines):
        assert f'nd_mmdet.compat: {name} applied: ' in line
        assert line.endswith('=1 to disable).')


def test_a_disabled_workaround_is_neither_applied_nor_logged():
    applied, lines = _import_nd_mmdet(ND_MMDET_NO_ATOMIC_WRITE='1',
                                      ND_MMDET_NO_CKPT_GUARD='1')
    assert 'atomic-local-put' not in applied
    assert 'checkpoint-deletion-guard' not in applied
    assert not any('atomic-local-put' in line or 'checkpoint-deletion' in line
                   for line in lines)

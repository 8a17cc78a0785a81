"""mmcv is not a pip requirement of nd_mmdet (installing the wheel must not
start an mmcv source build); ``import nd_mmdet`` stops with one line naming
scripts/install.sh and docs/get_started.md where mmcv is missing, of another
version or without its compiled ops (nd_mmdet/mmcv_check.py)."""
import os
import os.path as osp
import subprocess
import sys

import mmcv
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from nd_mmdet import mmcv_check
from tests.tools_runner import REPO

HOW = ('scripts/install.sh', 'docs/get_started.md')


def requirements(name):
    with open(osp.join(REPO, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [Requirement(line) for line in lines if line]


def test_the_checked_range_is_the_declared_extra_and_holds_the_pin():
    """The range checked at import is the ``mminstall`` extra's
    (requirements/mminstall.txt); install.sh's pin (mmcv.txt) is in it; the
    package's own requirements (runtime.txt) have no mmcv."""
    (extra, ) = requirements('mminstall.txt')
    low, high = mmcv_check.MMCV_RANGE
    assert extra.name == 'onedl-mmcv'
    assert extra.specifier == SpecifierSet(f'>={low},<{high}')
    (pin, ) = requirements('mmcv.txt')
    assert pin.name == extra.name
    assert extra.specifier.contains(next(iter(pin.specifier)).version)
    assert not [r for r in requirements('runtime.txt') if 'mmcv' in r.name]


def test_import_without_mmcv_says_what_to_do_in_one_line(tmp_path):
    """A process where ``import mmcv`` fails: ``import nd_mmdet`` exits
    non-zero, the last line is the error and no other line repeats it."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-c',
         "import sys; sys.modules['mmcv'] = None; import nd_mmdet"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith(
        'nd_mmdet.mmcv_check.MMCVError: nd_mmdet needs '
        'onedl-mmcv>=2.3.6,<2.4 with its compiled ops, and mmcv cannot be '
        'imported'), lines[-1]
    assert all(where in lines[-1] for where in HOW)
    assert [line for line in lines if 'nd_mmdet needs' in line] == \
        lines[-1:]


@pytest.mark.parametrize('version,fine', [
    ('2.3.6', True), ('2.3.12', True), ('2.3.5', False), ('2.2.0', False),
    ('2.4.0', False), ('3.0.0', False)])
def test_versions_outside_the_range_are_refused(monkeypatch, version, fine):
    monkeypatch.setattr(mmcv, '__version__', version)
    problem = mmcv_check.mmcv_problem()
    if fine:
        assert problem is None
        mmcv_check.check_mmcv()
    else:
        assert f'got mmcv {version} ({mmcv.__file__})' in problem
        assert all(where in problem for where in HOW)
        with pytest.raises(ImportError, match=f'got mmcv {version}'):
            mmcv_check.check_mmcv()


def test_mmcv_without_ops_is_refused(monkeypatch):
    """An mmcv whose ``mmcv._ext`` cannot be found (MMCV_WITH_OPS=0,
    mmcv-lite)."""
    assert mmcv_check.mmcv_problem() is None  # this stack has the ops
    monkeypatch.setitem(sys.modules, 'mmcv._ext', None)
    problem = mmcv_check.mmcv_problem()
    assert f'mmcv {mmcv.__version__} ({mmcv.__file__}) has no compiled ops' \
        in problem
    assert '\n' not in problem and all(where in problem for where in HOW)

"""The wheel built from the repository: what it ships (configs, tools and
the model index in nd_mmdet/.mim, the start-up module and .pth, the
declared requirements) and, installed into a fresh venv that sees the
stack but not the repository's editable nd_mmdet, ``mim train nd_mmdet``
and ``mim test nd_mmdet`` on a user config whose ``_base_`` is one of its
shipped configs."""
import os
import os.path as osp
import shutil
import sys
import sysconfig
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement

from tests.test_packaging.runner import run
from tests.tools_runner import REPO, cifar_options

KDPP = 'cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
SHIPPED = (
    'nd_mmdet/.mim/configs/' + KDPP,
    'nd_mmdet/.mim/configs/_base_/models/cifar100/resnet20.py',
    'nd_mmdet/.mim/tools/train.py',
    'nd_mmdet/.mim/tools/test.py',
    'nd_mmdet/.mim/model-index.yml',
    'nd_mmdet/__init__.py',
    'nd_mmdet_startup.py',
    'nd_mmdet_startup.pth',
)


def checkout_copy(dst):
    """The files a clone of the repository has (tracked, plus new files git
    does not ignore), copied to ``dst``: no build/, .mim or egg-info of the
    working tree gets into the wheel."""
    files = run(['git', 'ls-files', '-z', '-co', '--exclude-standard'],
                REPO).split('\0')
    for name in filter(None, files):
        src = osp.join(REPO, name)
        if osp.isfile(src):
            os.makedirs(osp.dirname(osp.join(dst, name)), exist_ok=True)
            shutil.copy2(src, osp.join(dst, name))


def tree(root):
    """Every path under ``root`` (folders and files), relative."""
    return {osp.relpath(osp.join(folder, name), root)
            for folder, dirs, files in os.walk(root)
            for name in dirs + files}


@pytest.fixture(scope='module')
def build(tmp_path_factory):
    """``(wheel path, paths the build wrote into the source copy)``."""
    tmp = tmp_path_factory.mktemp('wheel')
    checkout_copy(tmp / 'src')
    before = tree(tmp / 'src')
    run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
         '--no-build-isolation', '-w', tmp / 'dist', tmp / 'src'], tmp)
    (path,) = (tmp / 'dist').glob('nd_mmdet-*.whl')
    return path, sorted(tree(tmp / 'src') - before)


@pytest.fixture(scope='module')
def wheel(build):
    return build[0]


def test_pip_wheel_leaves_the_source_tree_clean(build):
    """pyproject.toml names the backend; setup.py builds outside the tree
    (no build/, no nd_mmdet.egg-info, no .mim copy)."""
    assert build[1] == []
    with open(osp.join(REPO, 'pyproject.toml'), 'rb') as f:
        backend = tomllib.load(f)['build-system']['build-backend']
    assert backend == 'setuptools.build_meta'


def requirement_lines(name):
    with open(osp.join(REPO, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def test_wheel_ships_configs_tools_startup_and_requirements(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata,) = [n for n in names if n.endswith('.dist-info/METADATA')]
        meta = zf.read(metadata).decode()
        pth = zf.read('nd_mmdet_startup.pth').decode()
    for name in SHIPPED:
        assert name in names, name
    configs = {n for n in names if n.startswith('nd_mmdet/.mim/configs/')}
    assert len(configs) == sum(
        len([f for f in files if not f.endswith('.pyc')])
        for _, _, files in os.walk(osp.join(REPO, 'configs')))
    assert not any('__pycache__' in n for n in names if '.mim' in n)
    assert pth == open(osp.join(REPO, 'nd_mmdet_startup.pth')).read()
    requires = [Requirement(line.split(': ', 1)[1])
                for line in meta.splitlines()
                if line.startswith('Requires-Dist: ')]
    declared = [r for r in requires if r.marker is None]
    wanted = [Requirement(r) for r in requirement_lines('runtime.txt')]
    assert {(r.name, r.specifier) for r in declared} == {
        (r.name, r.specifier) for r in wanted}
    assert {'onedl-mmengine', 'onedl-mmdetection', 'onedl-mmpretrain',
            'numpy'} <= {r.name for r in declared}
    # no torch (the CUDA build) and no mmcv (a source build) unless asked
    assert not {'torch', 'torchvision'} & {r.name for r in requires}
    assert not [r for r in declared if 'mmcv' in r.name]
    extra = [r for r in requires if r.marker is not None]
    assert [(r.name, r.specifier, str(r.marker)) for r in extra] == [
        (r.name, r.specifier, 'extra == "mminstall"')
        for r in map(Requirement, requirement_lines('mminstall.txt'))]
    assert 'Provides-Extra: mminstall' in meta.splitlines()


def test_mim_trains_and_tests_a_shipped_config_from_the_installed_wheel(
        wheel, tmp_path, tiny_cifar_root, tiny_cifar_teacher):
    # A venv that sees the stack through a path line; .pth files of the
    # stack's site-packages (the editable nd_mmdet) are not processed.
    run([sys.executable, '-m', 'venv', '--without-pip', tmp_path / 'venv'],
        tmp_path)
    python = tmp_path / 'venv' / 'bin' / 'python'
    site = run([python, '-c', 'import sysconfig; '
                'print(sysconfig.get_paths()["purelib"])'], tmp_path).strip()
    with open(osp.join(site, 'stack.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--target', site, wheel], tmp_path)
    user_cfg = tmp_path / 'user_cfg.py'
    user_cfg.write_text(f"_base_ = 'nd_mmdet::{KDPP}'\n")
    log = run([python, '-m', 'mim', 'train', 'nd_mmdet', user_cfg,
               '--work-dir', tmp_path / 'work',
               *cifar_options(tiny_cifar_root),
               f'model.teacher_ckpt={tiny_cifar_teacher}'], tmp_path)
    shipped = osp.join(site, 'nd_mmdet', '.mim')
    assert f'{shipped}/tools/train.py {user_cfg} ' in log
    assert 'loss_nd:' in log and 'Training finished successfully' in log
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
    assert 'Could not import OneDL' not in log
    log = run([python, '-m', 'mim', 'test', 'nd_mmdet', user_cfg,
               '--checkpoint', tmp_path / 'work' / 'epoch_1.pth',
               *cifar_options(tiny_cifar_root)], tmp_path)
    assert f'{shipped}/tools/test.py {user_cfg} ' in log
    assert 'Epoch(test)' in log and 'accuracy/top1:' in log
    # that venv's nd_mmdet and nd_mmdet:: configs are the wheel's
    where = run([python, '-c', 'import nd_mmdet; print(nd_mmdet.__file__); '
                 'from mmengine.config import Config; '
                 f'print(Config._get_cfg_path("nd_mmdet::{KDPP}", "")[0])'],
                tmp_path).split()
    assert where == [osp.join(site, 'nd_mmdet', '__init__.py'),
                     osp.join(shipped, 'configs', KDPP)]

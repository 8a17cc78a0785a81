"""The wheel built from the repository: what it ships (configs, tools and
the model index in nd_mmdet/.mim, the start-up module and .pth, the
declared requirements) and, installed into a fresh venv that sees the
stack but not the repository's editable nd_mmdet, ``mim train nd_mmdet``
on one of its shipped configs."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest
from packaging.requirements import Requirement

from tests.tools_runner import REPO, cifar_options

KDPP_NAME = 'kd++_resnet56-resnet20_cifar100.py'
SHIPPED = (
    'nd_mmdet/.mim/configs/cifar100/kd++/' + KDPP_NAME,
    'nd_mmdet/.mim/configs/_base_/models/cifar100/resnet20.py',
    'nd_mmdet/.mim/tools/train.py',
    'nd_mmdet/.mim/tools/test.py',
    'nd_mmdet/.mim/model-index.yml',
    'nd_mmdet/__init__.py',
    'nd_mmdet_startup.py',
    'nd_mmdet_startup.pth',
)


def run(cmd, cwd, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


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


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('wheel')
    checkout_copy(tmp / 'src')
    run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
         '--no-build-isolation', '-w', tmp / 'dist', tmp / 'src'], tmp)
    (path,) = (tmp / 'dist').glob('nd_mmdet-*.whl')
    return path


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
    declared = [Requirement(line.split(': ', 1)[1])
                for line in meta.splitlines()
                if line.startswith('Requires-Dist: ')]
    wanted = [Requirement(r) for r in requirement_lines('runtime.txt')]
    assert {(r.name, r.specifier) for r in declared} == {
        (r.name, r.specifier) for r in wanted}
    assert {'onedl-mmengine', 'onedl-mmcv', 'onedl-mmdetection',
            'onedl-mmpretrain', 'numpy'} <= {r.name for r in declared}
    assert not {'torch', 'torchvision'} & {r.name for r in declared}


def test_mim_trains_a_shipped_config_from_the_installed_wheel(
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
    log = run([python, '-m', 'mim', 'train', 'nd_mmdet', KDPP_NAME,
               '--work-dir', tmp_path / 'work',
               *cifar_options(tiny_cifar_root),
               f'model.teacher_ckpt={tiny_cifar_teacher}'], tmp_path)
    shipped = osp.join(site, 'nd_mmdet', '.mim')
    assert f'{shipped}/tools/train.py ' in log
    assert f'{shipped}/configs/cifar100/kd++/{KDPP_NAME}' in log
    assert 'loss_nd:' in log and 'Training finished successfully' in log
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
    assert 'Could not import OneDL' not in log

"""Install nd_mmdet as an OpenMMLab-style package.

- ``nd_mmdet/.mim/{configs,tools,model-index.yml}``: the repository's
  configs, tools and model index,
  where mmengine (``nd_mmdet::`` config paths) and mim look for them.
  Copied into the wheel (never into the source tree); symlinks in the
  source tree for an editable install (``pip install -e .``), as
  MMDetection's ``add_mim_extension`` does.
- ``nd_mmdet_startup.py`` and ``nd_mmdet_startup.pth`` at the top of
  site-packages: the start-up hooks that let MMDetection's and MMPretrain's
  own tools and mim run on this stack (see nd_mmdet_startup). For an
  editable install scripts/install.sh writes the .pth.
- ``install_requires``: requirements/runtime.txt. The stack's exact pins,
  torch included, are installed by scripts/install.sh (README "Install").
  mmcv is the ``mminstall`` extra (requirements/mminstall.txt), as in
  MMDetection: installing the wheel never starts an mmcv source build;
  ``import nd_mmdet`` checks mmcv (nd_mmdet/mmcv_check.py).
- Nothing is written into the source tree by ``pip wheel .`` or
  ``pip install .``: setuptools' ``build/`` and ``*.egg-info`` go to a
  temporary folder, removed when the build process ends (pyproject.toml
  names setuptools as the build backend; explicit ``--build-base`` /
  ``--egg-base`` options still win).
"""
import atexit
import os
import os.path as osp
import shutil
import tempfile

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
#: Repository entries shipped in nd_mmdet/.mim/ (names as mim expects).
MIM_ENTRIES = ('configs', 'tools', 'model-index.yml')
STARTUP_PTH = 'nd_mmdet_startup.pth'


def read_version():
    namespace = {}
    with open(osp.join(ROOT, 'nd_mmdet', 'version.py'),
              encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name):
    """Requirement lines of requirements/<name> (no comments, no options)."""
    with open(osp.join(ROOT, 'requirements', name), encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


def remove_path(path):
    """Remove a file, a symlink or a folder tree, if there."""
    if osp.isdir(path) and not osp.islink(path):
        shutil.rmtree(path)
    elif osp.lexists(path):
        os.remove(path)


def link_mim_entries(package_dir):
    """``package_dir/.mim/<entry>`` -> ``<repo>/<entry>`` (relative
    symlinks), replacing whatever is there."""
    mim = osp.join(package_dir, '.mim')
    os.makedirs(mim, exist_ok=True)
    for entry in MIM_ENTRIES:
        target = osp.join(mim, entry)
        remove_path(target)
        os.symlink(osp.relpath(osp.join(ROOT, entry), mim), target)


def copy_mim_entries(package_dir):
    """Copy ``<repo>/<entry>`` into ``package_dir/.mim/<entry>``."""
    os.makedirs(osp.join(package_dir, '.mim'), exist_ok=True)
    for entry in MIM_ENTRIES:
        source = osp.join(ROOT, entry)
        target = osp.join(package_dir, '.mim', entry)
        remove_path(target)
        if osp.isdir(source):
            shutil.copytree(
                source, target,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(source, target)


def scratch_dir():
    """A temporary folder for setuptools' build/ and egg-info, removed at
    the exit of the process that runs this setup.py."""
    path = tempfile.mkdtemp(prefix='nd_mmdet-build-')
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


class BuildPyWithMim(build_py):
    """build_py that also ships the .mim folders and the start-up .pth."""

    def run(self):
        super().run()
        if self.editable_mode:
            link_mim_entries(osp.join(ROOT, 'nd_mmdet'))
            return
        copy_mim_entries(osp.join(self.build_lib, 'nd_mmdet'))
        self.copy_file(osp.join(ROOT, STARTUP_PTH),
                       osp.join(self.build_lib, STARTUP_PTH))


SCRATCH = scratch_dir()
setup(
    name='nd_mmdet',
    version=read_version(),
    description='Knowledge distillation with feature norm and direction '
    'regularisation (ND) on OpenMMLab',
    packages=find_packages(include=('nd_mmdet', 'nd_mmdet.*')),
    py_modules=['nd_mmdet_startup'],
    cmdclass={'build_py': BuildPyWithMim},
    options=dict(
        build=dict(build_base=osp.join(SCRATCH, 'build')),
        egg_info=dict(egg_base=SCRATCH)),
    # torch and torchvision are deliberately absent: a pip resolve of them
    # picks the multi-GB CUDA build; install the CPU or CUDA build first.
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(mminstall=read_requirements('mminstall.txt')),
    python_requires='>=3.10',
    license='Apache-2.0',
    zip_safe=False,
)

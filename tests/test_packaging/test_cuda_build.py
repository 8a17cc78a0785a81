"""Opt-in (``ND_MMDET_TEST_CUDA_BUILD=1``; GBs of downloads; 42 min on 2
cores for one GPU architecture, ``TORCH_CUDA_ARCH_LIST=9.0
MMCV_MAX_JOBS=2``, about four times that for the default four): ``scripts/install.sh --cuda`` in a fresh checkout copy builds
mmcv with its CUDA ops without a GPU, caches the wheel under a key with the
CUDA version next to the CPU wheels (whose cache key is unchanged), and the
wheel's ``mmcv/_ext*.so`` holds CUDA kernels: a ``.nv_fatbin`` section and
the ``__cudaRegisterFatBinary`` registration of the CUDA runtime."""
import glob
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

from tests.test_packaging.test_wheel import checkout_copy
from tests.tools_runner import REPO

opt_in = pytest.mark.skipif(
    os.environ.get('ND_MMDET_TEST_CUDA_BUILD') != '1',
    reason='slow CUDA mmcv build: set ND_MMDET_TEST_CUDA_BUILD=1')

CACHE = os.environ.get('ND_MMDET_CACHE',
                       osp.expanduser('~/.cache/nd_mmdet'))


def cuda_kernels(so_path):
    """``(has a .nv_fatbin section, registers a fat binary)`` of a shared
    library (binutils' readelf / nm)."""
    sections = subprocess.run(['readelf', '-S', '-W', so_path],
                              capture_output=True, text=True).stdout
    symbols = subprocess.run(['nm', '-D', so_path], capture_output=True,
                             text=True).stdout
    return '.nv_fatbin' in sections, '__cudaRegisterFatBinary' in symbols


def test_cuda_kernel_check_tells_cpu_from_cuda_builds():
    """The check itself (runs in every suite): the installed build has
    CUDA kernels exactly when it was compiled with CUDA."""
    import mmcv
    import mmcv.ops
    (ext, ) = glob.glob(osp.join(osp.dirname(mmcv.__file__), '_ext*.so'))
    compiled = mmcv.ops.get_compiling_cuda_version() != 'not available'
    assert cuda_kernels(ext) == (compiled, compiled)


@pytest.mark.cuda_build
@opt_in
def test_install_cuda_builds_and_caches_a_cuda_mmcv_wheel(tmp_path):
    cpu_keys = sorted(d for d in os.listdir(osp.join(CACHE, 'wheels'))
                      if '-cu' not in d) \
        if osp.isdir(osp.join(CACHE, 'wheels')) else []
    checkout_copy(tmp_path / 'src')
    env = dict(os.environ, PYTHON=sys.executable, ND_MMDET_CACHE=CACHE)
    proc = subprocess.run(
        ['bash', 'scripts/install.sh', '--cuda'], cwd=tmp_path / 'src',
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=6 * 3600)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert 'CUDA compiler: ' in proc.stdout
    wheels = glob.glob(osp.join(CACHE, 'wheels', '*-cu*-*',
                                'onedl_mmcv-*.whl'))
    assert wheels, proc.stdout[-3000:]
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            (ext, ) = [n for n in zf.namelist()
                       if n.startswith('mmcv/_ext') and n.endswith('.so')]
            zf.extract(ext, tmp_path / 'ext')
        assert cuda_kernels(str(tmp_path / 'ext' / ext)) == (True, True)
    # the CPU wheels' cache keys are untouched
    assert sorted(d for d in os.listdir(osp.join(CACHE, 'wheels'))
                  if '-cu' not in d) == cpu_keys
    vpy = tmp_path / 'src' / '.venv' / 'bin' / 'python'
    out = subprocess.run(
        [vpy, '-c', 'import torch, mmcv.ops as o; '
         'print(torch.version.cuda, o.get_compiling_cuda_version())'],
        capture_output=True, text=True).stdout.split()
    assert out[0] != 'None' and out[0] == out[1]

"""scripts/install.sh's ``cuda_home`` (the CUDA_HOME of ``--cuda``'s mmcv
build), run on fakes in seconds: a system ``nvcc`` that is a wrapper
script (as this machine's /usr/local/bin/nvcc), its toolkit of nvcc and
runtime only, and torch's nvidia-* wheels holding the library headers
(cusparse.h) that torch's ATen/cuda headers include. The assembled
CUDA_HOME must hold both: the real build stopped at ``cusparse.h: No such
file or directory`` when CUDA_HOME was the toolkit alone."""
import os
import os.path as osp
import re
import subprocess
import sys

from tests.tools_runner import REPO


def _function(name):
    """The text of shell function ``name`` of scripts/install.sh."""
    with open(osp.join(REPO, 'scripts', 'install.sh')) as f:
        text = f.read()
    match = re.search(rf'^{name}\(\) {{\n.*?^}}\n', text, re.M | re.S)
    assert match, f'install.sh: no function {name}'
    return match.group(0)


def _write(path, text='', mode=0o644):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def _fake_machine(tmp_path, system_cuda):
    """A venv whose ``torch`` says CUDA 13.0 and whose nvidia/cu13 wheel
    has cusparse.h; a toolkit of CUDA ``system_cuda`` reached through a
    wrapper script ``bin/nvcc`` on PATH."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    vpy = str(venv / 'bin' / 'python')
    site = subprocess.run(
        [vpy, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], capture_output=True, text=True,
        check=True).stdout.strip()
    _write(osp.join(site, 'torch', '__init__.py'),
           'class version:\n    cuda = "13.0"\n')
    wheel = osp.join(site, 'nvidia', 'cu13')
    _write(osp.join(wheel, 'include', 'cusparse.h'), '// wheel\n')
    _write(osp.join(wheel, 'include', 'cuda_runtime.h'), '// wheel\n')
    _write(osp.join(wheel, 'lib', 'libcusparse.so.12'))
    toolkit = str(tmp_path / 'cuda-13.0')
    _write(osp.join(toolkit, 'include', 'cuda_runtime.h'), '// toolkit\n')
    _write(osp.join(toolkit, 'lib', 'libcudart.so.13'))
    os.makedirs(osp.join(toolkit, 'nvvm', 'bin'))
    real_nvcc = osp.join(toolkit, 'bin', 'nvcc')
    _write(real_nvcc, '#!/bin/sh\n'
           'case "$*" in\n'
           f'  *--version*) echo "Cuda compilation tools, release '
           f'{system_cuda}, V{system_cuda}.88" ;;\n'
           f'  *--dryrun*) echo "#\\$ TOP={toolkit}/bin/.." >&2 ;;\n'
           'esac\n', 0o755)
    wrapper = str(tmp_path / 'path' / 'nvcc')
    _write(wrapper, f'#!/bin/sh\nexec {real_nvcc} "$@"\n', 0o755)
    return vpy, toolkit


def _cuda_home(tmp_path, vpy):
    script = '\n'.join([
        'set -euo pipefail', 'log() { echo "[install] $*"; }',
        f'VPY={vpy}', f'VENV={tmp_path / "venv"}',
        'PIP=(false)',  # the PyPI branch must not be taken here
        _function('cuda_home'), 'cuda_home'])
    # no CUDA_HOME toolkit: this machine's /usr/local/cuda must not count
    env = dict(os.environ, CUDA_HOME=str(tmp_path / 'no-cuda'),
               PATH=f'{tmp_path / "path"}:{os.environ["PATH"]}')
    return subprocess.run(['bash', '-c', script], env=env,
                          capture_output=True, text=True)


def test_system_toolkit_gets_the_wheels_library_headers(tmp_path):
    vpy, toolkit = _fake_machine(tmp_path, '13.0')
    proc = _cuda_home(tmp_path, vpy)
    assert proc.returncode == 0, proc.stderr
    home = proc.stdout.strip().splitlines()[-1]
    assert home == str(tmp_path / 'venv' / 'cuda')
    # nvcc's own toolkit, found through the wrapper script
    assert f"the system's {tmp_path / 'path' / 'nvcc'} (CUDA 13.0, " \
        f'toolkit {toolkit})' in proc.stderr
    assert osp.realpath(osp.join(home, 'bin')) == osp.join(toolkit, 'bin')
    assert osp.realpath(osp.join(home, 'nvvm')) == osp.join(toolkit, 'nvvm')
    # the toolkit's own header wins over a wheel's of the same name
    with open(osp.join(home, 'include', 'cuda_runtime.h')) as f:
        assert f.read() == '// toolkit\n'
    # what torch's headers include and the toolkit lacks: from the wheel
    with open(osp.join(home, 'include', 'cusparse.h')) as f:
        assert f.read() == '// wheel\n'
    # libraries also under the unversioned names the linker asks for
    assert osp.realpath(osp.join(home, 'lib64', 'libcudart.so')) == \
        osp.join(toolkit, 'lib', 'libcudart.so.13')
    assert osp.islink(osp.join(home, 'lib64', 'libcusparse.so'))


def test_a_toolkit_of_another_cuda_release_is_not_used(tmp_path):
    vpy, _ = _fake_machine(tmp_path, '12.8')
    proc = _cuda_home(tmp_path, vpy)
    assert f"the system's {tmp_path / 'path' / 'nvcc'} is CUDA 12.8, " \
        'torch is built with CUDA 13.0: not used' in proc.stderr
    # then it goes for NVIDIA's PyPI wheels (here: pip is `false`)
    assert "CUDA compiler: NVIDIA's PyPI wheels for CUDA 13.0" in \
        proc.stderr

#!/usr/bin/env bash
# Idempotent set-up of nd-mmdet: creates .venv in the repository root with the
# pinned OpenMMLab stack (requirements/*.txt) and nd_mmdet in editable mode.
# A second run with nothing changed returns in seconds.
#
#   scripts/install.sh            # the stack + nd_mmdet
#   scripts/install.sh --demo     # also Debian's dataset-fashion-mnist (demo)
#   scripts/install.sh --cuda     # the CUDA torch and mmcv's CUDA ops
#   scripts/install.sh --cpu      # the CPU build even where a GPU is visible
#
# Without --cuda / --cpu, a visible NVIDIA GPU (`nvidia-smi -L`) selects the
# CUDA build (printed). The CUDA build: PyPI's torch of the same pin (the
# default Linux wheel is the CUDA one), and mmcv compiled with FORCE_CUDA=1 by
# the system's nvcc when its CUDA version is torch's, else by NVIDIA's nvcc
# wheels from PyPI of exactly torch's CUDA version (the log says which);
# no GPU is needed to build.
#
# Environment: PYTHON (interpreter for the venv, default python3.11 or
# python3), ND_MMDET_CACHE (wheel cache, default ~/.cache/nd_mmdet),
# MMCV_MAX_JOBS (parallel compile jobs for the mmcv build, default nproc),
# TORCH_CUDA_ARCH_LIST (GPU architectures of the CUDA build; default: the
# visible GPUs', else "8.0;8.6;8.9;9.0+PTX").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
CACHE="${ND_MMDET_CACHE:-$HOME/.cache/nd_mmdet}"
WITH_DEMO=0
CUDA=auto
for arg in "$@"; do
  case "$arg" in
    --demo) WITH_DEMO=1 ;;
    --cuda) CUDA=1 ;;
    --cpu) CUDA=0 ;;
    *) echo "install.sh: unknown option '$arg' (known: --demo, --cuda, --cpu)" >&2; exit 2 ;;
  esac
done

log() { echo "[install] $*"; }

if [ "$CUDA" = auto ]; then
  CUDA=0
  if command -v nvidia-smi >/dev/null && GPU_LIST="$(nvidia-smi -L 2>/dev/null)" && \
     echo "$GPU_LIST" | grep -q '^GPU '; then
    log "NVIDIA GPU visible (nvidia-smi -L: $(echo "$GPU_LIST" | head -n1)): the CUDA build (--cpu for the CPU one)"
    CUDA=1
  fi
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@";
  else echo "[install] need root for: $*" >&2; return 1; fi
}

apt_install() {  # apt_install PACKAGE...: installs the missing ones only.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ "$WITH_DEMO" = 1 ]; then
  apt_install dataset-fashion-mnist
fi

# The stamp: a digest of everything that decides what is installed.
stamp_key() {
  cat scripts/install.sh requirements/*.txt setup.py nd_mmdet_startup.pth | \
    sha256sum | cut -d' ' -f1
}
KEY="$(stamp_key)"
[ "$CUDA" = 1 ] && KEY="$KEY-cuda"
STAMP="$VENV/.nd_mmdet_install_stamp"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] && \
   "$VPY" -c "import nd_mmdet, mmcv.ops, mmdet, mmpretrain" >/dev/null 2>&1; then
  log "up to date (.venv matches requirements/; delete $STAMP to force)"
  exit 0
fi

# 1. Interpreter and venv.
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if command -v python3.11 >/dev/null; then PYTHON=python3.11; else PYTHON=python3; fi
fi
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' || {
  echo "[install] $PYTHON is older than Python 3.10" >&2; exit 1; }
if [ ! -x "$VPY" ]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV" || { apt_install python3-venv; "$PYTHON" -m venv "$VENV"; }
fi
PIP=("$VPY" -m pip --disable-pip-version-check)

# A C++ compiler for mmcv's ops (the mmcv build below).
command -v g++ >/dev/null || apt_install build-essential

# 2. torch: the CPU build, never a pip-resolved CUDA one (--cuda: PyPI's CUDA
# build of the same pin, with its nvidia-* library wheels).
TORCH_PIN="$(grep -E '^torch==' requirements/stack.txt)"
TORCH_VERSION="${TORCH_PIN#torch==}"
if [ "$CUDA" = 1 ]; then
  if ! "$VPY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION' or torch.version.cuda is None)" 2>/dev/null; then
    log "installing $TORCH_PIN (CUDA build from PyPI, with its nvidia-* wheels: GBs)"
    # '===': exactly this version string, so a local +cpu wheel (a wheel
    # folder, an installed CPU torch) does not satisfy it.
    "${PIP[@]}" install -q "torch===${TORCH_VERSION}"
    "$VPY" -c "import torch, sys; sys.exit(torch.version.cuda is None)" || {
      echo "[install] $TORCH_PIN installed without CUDA (a local +cpu wheel?); install PyPI's build" >&2; exit 1; }
  fi
elif ! "$VPY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  log "installing $TORCH_PIN (CPU)"
  # The +cpu local version exists on the PyTorch index and in local wheel
  # folders; PyPI's plain version is the CUDA build (works, but GBs).
  "${PIP[@]}" install -q "torch==${TORCH_VERSION}+cpu" 2>/dev/null || \
    "${PIP[@]}" install -q --timeout 20 --retries 0 --index-url https://download.pytorch.org/whl/cpu "$TORCH_PIN" 2>/dev/null || \
    "${PIP[@]}" install -q "$TORCH_PIN"
fi

# 3. The rest of the stack (none of these depends on torch in its metadata;
# the dry run guards against a torch upgrade slipping in).
log "installing requirements/stack.txt"
"${PIP[@]}" install -q setuptools wheel ninja
if "${PIP[@]}" install --dry-run -r requirements/stack.txt 2>/dev/null | \
    grep -E '^Would install.* torch-[0-9]' >/dev/null; then
  echo "[install] refusing: requirements/stack.txt would reinstall torch" >&2
  exit 1
fi
"${PIP[@]}" install -q -r requirements/stack.txt

# strip_into_cache BUILD WHEELS: the mmcv wheel built in BUILD with its debug
# symbols stripped (84 MB -> 2 MB), repacked so RECORD stays valid, into the
# cache folder WHEELS; BUILD is removed.
strip_into_cache() {
  "$VPY" -m wheel unpack -d "$1/unpacked" "$1"/onedl_mmcv-*.whl
  find "$1/unpacked" -name '_ext*.so' -exec strip --strip-debug {} +
  "$VPY" -m wheel pack -d "$2" "$1"/unpacked/onedl_mmcv-*
  rm -rf "$1"
}

# The CUDA compiler for mmcv's CUDA ops, as CUDA_HOME: the system's nvcc (on
# PATH, else $CUDA_HOME/bin, else /usr/local/cuda/bin) when its CUDA version is
# torch's, else NVIDIA's PyPI wheels of torch's exact
# CUDA version (cuda-toolkit[nvcc,...] for CUDA >= 13, nvidia-cuda-nvcc-cu12
# & co. before). Either way a CUDA_HOME is assembled under .venv/cuda: the
# compiler's tree (bin, nvvm, include, lib64) plus the headers and libraries
# of the nvidia-* wheels torch installed (cusparse.h, cublas_v2.h, ...: torch's
# ATen/cuda headers include them, and a toolkit of nvcc and runtime only
# lacks them: this machine's /usr/local/cuda is one), with the unversioned
# libcudart.so the link step asks for. Prints the CUDA_HOME; says which
# compiler on stderr.
cuda_home() {
  local want have nvcc tree=""
  want="$("$VPY" -c 'import torch; print(torch.version.cuda)')"
  for nvcc in "$(command -v nvcc || true)" "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"; do
    [ -x "$nvcc" ] || continue
    have="$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')"
    if [ "$have" = "$want" ]; then
      # the toolkit's root as nvcc sees it (nvcc may be a wrapper script)
      # (no `echo |` and no `| head`: under pipefail, a writer whose
      # reader has exited dies of SIGPIPE, exit 141 - seen in CI)
      tree="$("$nvcc" --dryrun -x cu -c - -o /dev/null </dev/null 2>&1 |
        awk 'sub(/^#\$ TOP=/, "") && !found++')"
      tree="$(readlink -f "${tree:-$(dirname "$(dirname "$(readlink -f "$nvcc")")")}")"
      log "CUDA compiler: the system's $nvcc (CUDA $have, toolkit $tree)" >&2
      break
    fi
    log "the system's $nvcc is CUDA $have, torch is built with CUDA $want: not used" >&2
  done
  if [ -z "$tree" ]; then
    log "CUDA compiler: NVIDIA's PyPI wheels for CUDA $want" >&2
  "$VPY" - "$want" <<'PYEOF' | xargs "${PIP[@]}" install -q >&2
# The nvcc / headers / runtime wheels of torch's CUDA version, as pip
# requirements (one per line), read from torch's own requirements.
import re
import sys
from importlib.metadata import requires, version

want = sys.argv[1]
reqs = requires('torch') or []
toolkit = [r for r in reqs if r.startswith('cuda-toolkit')]
if toolkit:  # CUDA >= 13: cuda-toolkit[...]==X.Y.Z
    pin = re.search(r'==\s*([0-9.]+)', toolkit[0]).group(1)
    print(f'cuda-toolkit[nvcc,cudart,cccl,crt]=={pin}')
else:  # CUDA 12: nvidia-cuda-runtime-cu12==X, same release for nvcc
    runtime = version('nvidia-cuda-runtime-cu12')
    for name in ('nvidia-cuda-nvcc-cu12', 'nvidia-cuda-runtime-cu12',
                 'nvidia-cuda-cccl-cu12'):
        print(f'{name}=={runtime}')
PYEOF
  fi
  rm -rf "$VENV/cuda"
  "$VPY" - "$VENV/cuda" "$tree" <<'PYEOF'
# Assemble CUDA_HOME: bin/ and nvvm/ of the compiler's tree (argv[2]: the
# system toolkit; empty: the nvidia/* wheel holding bin/nvcc), then every
# include/ and lib/ of that tree and of the nvidia/* wheels merged into
# include/ and lib64/ (the tree's own first), the libraries also under the
# unversioned names the linker looks for.
import glob
import os
import os.path as osp
import sys
import sysconfig

site = sysconfig.get_paths()['purelib']
home, tree = sys.argv[1], sys.argv[2]
if not tree:
    nvccs = sorted(glob.glob(osp.join(site, 'nvidia', '*', 'bin', 'nvcc')))
    if not nvccs:
        sys.exit('no nvcc in the nvidia-* wheels of ' + site)
    tree = osp.dirname(osp.dirname(nvccs[0]))
for sub in ('include', 'lib64'):
    os.makedirs(osp.join(home, sub), exist_ok=True)
for name in ('bin', 'nvvm'):
    if osp.isdir(osp.join(tree, name)):
        os.symlink(osp.join(tree, name), osp.join(home, name))
folders = [tree] + sorted(glob.glob(osp.join(site, 'nvidia', '*')))
for folder in folders:
    for sub, dst in (('include', 'include'), ('lib', 'lib64'),
                     ('lib64', 'lib64')):
        for path in glob.glob(osp.join(folder, sub, '*')):
            names = [osp.basename(path)]
            if dst == 'lib64' and '.so.' in names[0]:
                names.append(names[0].split('.so.')[0] + '.so')
            for name in names:
                link = osp.join(home, dst, name)
                if not osp.lexists(link):
                    os.symlink(path, link)
print(home)
PYEOF
}

# Both mmcv builds pass --no-cache-dir: pip's own wheel cache keys a wheel
# built from an sdist by the sdist alone, not by FORCE_CUDA or the torch it
# was built against, so without it a "CUDA build" returned pip's cached CPU
# build in seconds (found by the opt-in test, 2026-12-02).
# mmcv with its CUDA ops (FORCE_CUDA=1), built once per (python, torch, CUDA,
# GPU archs) and cached as a wheel next to the CPU ones; skipped when the
# installed mmcv already has CUDA ops.
build_cuda_mmcv() {
  if "$VPY" -c "import sys, mmcv.ops as o; sys.exit(o.get_compiling_cuda_version() == 'not available')" >/dev/null 2>&1; then
    return
  fi
  local pytag cuda arch archtag wheels wheel build home
  pytag="$("$VPY" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
  cuda="$("$VPY" -c 'import torch; print(torch.version.cuda)')"
  arch="${TORCH_CUDA_ARCH_LIST:-}"
  if [ -z "$arch" ] && command -v nvidia-smi >/dev/null; then
    arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -u | paste -sd';' || true)"
  fi
  arch="${arch:-8.0;8.6;8.9;9.0+PTX}"
  archtag="sm$(echo "$arch" | sed 's/+PTX/ptx/g; s/[. ]//g; s/;/_/g')"
  wheels="$CACHE/wheels/${pytag}-torch${TORCH_VERSION}-cu${cuda}-${archtag}-${MMCV_PIN#onedl-mmcv==}"
  mkdir -p "$wheels"
  wheel="$(ls "$wheels"/onedl_mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$wheel" ]; then
    home="$(cuda_home)"
    log "building $MMCV_PIN with CUDA $cuda ops (archs $arch, CUDA_HOME $home) against torch $TORCH_VERSION (long: about 40 min per GPU architecture on 2 cores, once)"
    build="$(mktemp -d)"
    CUDA_HOME="$home" PATH="$home/bin:$PATH" LIBRARY_PATH="$home/lib64:${LIBRARY_PATH:-}" \
      TORCH_CUDA_ARCH_LIST="$arch" MMCV_WITH_OPS=1 FORCE_CUDA=1 \
      MAX_JOBS="${MMCV_MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel -q --no-cache-dir --no-build-isolation --no-deps --no-binary onedl-mmcv \
      -w "$build" "$MMCV_PIN"
    strip_into_cache "$build" "$wheels"
    wheel="$(ls "$wheels"/onedl_mmcv-*.whl | head -n1)"
  fi
  log "installing $(basename "$wheel") (CUDA $cuda)"
  "${PIP[@]}" install -q --force-reinstall --no-deps "$wheel"
  if ! "$VPY" -c "import sys, mmcv.ops as o; sys.exit(o.get_compiling_cuda_version() == 'not available')" >/dev/null 2>&1; then
    rm -rf "$wheels"
    echo "[install] $wheel has no CUDA ops (built without nvcc?): removed from the cache; see the build log above" >&2
    exit 1
  fi
}

# 4. mmcv with ops, built once per (python, torch) and cached as a wheel.
MMCV_PIN="$(grep -E '^onedl-mmcv==' requirements/mmcv.txt)"
if [ "$CUDA" = 1 ]; then
  build_cuda_mmcv  # (below: per python, torch, CUDA version and GPU archs)
elif ! "$VPY" -c "import mmcv.ops" >/dev/null 2>&1; then
  PYTAG="$("$VPY" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
  WHEELS="$CACHE/wheels/${PYTAG}-torch${TORCH_VERSION}-${MMCV_PIN#onedl-mmcv==}"
  mkdir -p "$WHEELS"
  WHEEL="$(ls "$WHEELS"/onedl_mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$WHEEL" ]; then
    log "building $MMCV_PIN with CPU ops against torch $TORCH_VERSION (10-20 min on 2 cores, once)"
    BUILD="$(mktemp -d)"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MMCV_MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel -q --no-cache-dir --no-build-isolation --no-deps --no-binary onedl-mmcv \
      -w "$BUILD" "$MMCV_PIN"
    strip_into_cache "$BUILD" "$WHEELS"
    WHEEL="$(ls "$WHEELS"/onedl_mmcv-*.whl | head -n1)"
  fi
  log "installing $(basename "$WHEEL")"
  "${PIP[@]}" install -q "$WHEEL"
fi

# 5. nd_mmdet itself, editable (setup.py links nd_mmdet/.mim/{configs,tools}
# to the repository's folders), and its start-up .pth: MMDetection's and
# MMPretrain's own tools and mim then work without importing nd_mmdet
# (nd_mmdet_startup.py; ND_MMDET_NO_STARTUP=1 turns it off). A wheel ships
# the .pth itself; an editable install does not, so it is copied here.
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cp nd_mmdet_startup.pth "$SITE/nd_mmdet_startup.pth"
"${PIP[@]}" check

"$VPY" - <<'EOF'
import sys
import torch
import torchvision  # the start-up hook, without nd_mmdet
assert 'nd_mmdet' not in sys.modules, 'nd_mmdet_startup imported nd_mmdet'
import nd_mmdet, mmcv, mmcv.ops, mmdet, mmengine, mmpretrain
print(f'[install] ok: nd_mmdet {nd_mmdet.__version__}, torch {torch.__version__}, '
      f'mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, '
      f'mmdet {mmdet.__version__}, mmpretrain {mmpretrain.__version__}')
EOF
echo "$KEY" > "$STAMP"

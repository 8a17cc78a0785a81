#!/usr/bin/env bash
# Idempotent set-up of nd-mmdet: creates .venv in the repository root with the
# pinned OpenMMLab stack (requirements/*.txt) and nd_mmdet in editable mode.
# A second run with nothing changed returns in seconds.
#
#   scripts/install.sh            # the stack + nd_mmdet
#   scripts/install.sh --demo     # also Debian's dataset-fashion-mnist (demo)
#
# Environment: PYTHON (interpreter for the venv, default python3.11 or
# python3), ND_MMDET_CACHE (wheel cache, default ~/.cache/nd_mmdet),
# MMCV_MAX_JOBS (parallel compile jobs for the mmcv build, default nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
CACHE="${ND_MMDET_CACHE:-$HOME/.cache/nd_mmdet}"
WITH_DEMO=0
for arg in "$@"; do
  case "$arg" in
    --demo) WITH_DEMO=1 ;;
    *) echo "install.sh: unknown option '$arg' (known: --demo)" >&2; exit 2 ;;
  esac
done

log() { echo "[install] $*"; }

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

# 2. torch: the CPU build, never a pip-resolved CUDA one.
TORCH_PIN="$(grep -E '^torch==' requirements/stack.txt)"
TORCH_VERSION="${TORCH_PIN#torch==}"
if ! "$VPY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
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

# 4. mmcv with ops, built once per (python, torch) and cached as a wheel.
MMCV_PIN="$(grep -E '^onedl-mmcv==' requirements/mmcv.txt)"
if ! "$VPY" -c "import mmcv.ops" >/dev/null 2>&1; then
  PYTAG="$("$VPY" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
  WHEELS="$CACHE/wheels/${PYTAG}-torch${TORCH_VERSION}-${MMCV_PIN#onedl-mmcv==}"
  mkdir -p "$WHEELS"
  WHEEL="$(ls "$WHEELS"/onedl_mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$WHEEL" ]; then
    log "building $MMCV_PIN with CPU ops against torch $TORCH_VERSION (10-20 min on 2 cores, once)"
    BUILD="$(mktemp -d)"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MMCV_MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel -q --no-build-isolation --no-deps --no-binary onedl-mmcv \
      -w "$BUILD" "$MMCV_PIN"
    # Strip debug symbols (84 MB -> 2 MB), then repack so RECORD stays valid.
    "$VPY" -m wheel unpack -d "$BUILD/unpacked" "$BUILD"/onedl_mmcv-*.whl
    find "$BUILD/unpacked" -name '_ext*.so' -exec strip --strip-debug {} +
    "$VPY" -m wheel pack -d "$WHEELS" "$BUILD"/unpacked/onedl_mmcv-*
    rm -rf "$BUILD"
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

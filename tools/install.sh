#!/usr/bin/env bash
# Install sola_mm and its pinned stack into the active Python environment.
# - No torch installed: install the CPU wheel torch==2.13.0 first (never the CUDA packages).
# - torch already installed (CPU or CUDA): keep it.
# Idempotent: a second run only re-checks.
set -euo pipefail
PY=${PYTHON:-python}
case "$PY" in  # a relative path to an interpreter (.venv/bin/python) must survive the cds
  */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;;
esac
cd "$(dirname "$0")/.."

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "[install] no torch found: installing the CPU wheel torch==2.13.0"
  # a local CPU wheel (pip find-links) first, without touching any index; its own metadata
  # declares no CUDA packages, so resolving its dependencies afterwards stays CPU-only
  if "$PY" -m pip install -q --no-index --no-deps torch==2.13.0 >/dev/null 2>&1; then
    "$PY" -m pip install -q torch==2.13.0
  else
    "$PY" -m pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
      --extra-index-url https://pypi.org/simple
  fi
else
  echo "[install] keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
fi

# run the checks from / so that this folder (the current directory) cannot satisfy the import
installed=$(cd / && "$PY" -c 'import sola_mm, mmaction.models, h5py, av, pytest, os
print(os.path.realpath(os.path.dirname(sola_mm.__file__)))' 2>/dev/null | tail -n 1) || true
if [ "$installed" = "$(pwd -P)/sola_mm" ]; then
  echo "[install] sola_mm already installed from this checkout"
  exit 0
fi
"$PY" -m pip install -q -e '.[tests]'
"$PY" -c 'import sola_mm, mmaction.models; print("[install] sola_mm", sola_mm.__version__, "ready")'

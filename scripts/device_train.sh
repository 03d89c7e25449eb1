#!/usr/bin/env bash
# On the device machine: install the carried wheels, train for $1 minutes (default 7) with batch $2 (default 128),
# draw the single-object bar set from every checkpoint, pack the results in $OUT.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
# Stopped at $3 seconds (default 500) so that the split below still runs inside the device call.
timeout "${3:-500}" python3 scripts/device_train.py "${1:-7}" "$OUT" "${2:-128}" 2>&1 | grep -v -i warn || true
cd "$OUT" && split -b 15M -d gpu_run.tar gpu_run.tar.part && rm gpu_run.tar; ls -la

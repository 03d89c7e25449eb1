#!/usr/bin/env bash
# On a lent GPU machine: install the carried wheels (.whl: diffusers and what it needs) and run the
# Stable Diffusion 1.5-scale speed benchmark, writing its JSON to $OUT.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 benchmarks/gpu_sd_speed.py --out "$OUT/gpu_sd_speed.json" --repeats 3 2>&1 | grep -v -i "warn\|should be kept in float32"

#!/usr/bin/env bash
# One short script for a GPU machine (about 4 minutes on an H100/H200 with 16 cores):
#   1. encoder-only chips/s of CLOSP-RN per batch size, fp32 vs bf16, peak GPU memory,
#      text-query latency (python -m bench.encode);
#   2. ingest end to end from local HDF5 (CrisisLandMark, 20,000 generated chips) and from
#      BigEarthNet patch folders (2,000), next to the encoder-only rate measured in the same
#      process, with the default reader processes (python -m bench.ingest).
# Targets (issue #12): >= 10,000 chips/s encoder-only (bf16), end to end >= 80 % of it.
#
#   bench/gpu.sh                        # on the GPU machine
#   bench/gpu.sh --device cpu --quick   # the same steps, small, on a CPU (a smoke test)
#
# Generated data is cached in ${CLOSP_BENCH_DATA:-$TMPDIR/closp-bench}. PYTHON picks the
# interpreter (default: .venv/bin/python if present, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
QUICK=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --quick) QUICK=(--quick); shift ;;
    *) echo "usage: bench/gpu.sh [--device cuda|cpu] [--quick]" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-$( [[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3 )}"
DATA="${CLOSP_BENCH_DATA:-${TMPDIR:-/tmp}/closp-bench}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [[ "$DEVICE" == cuda* ]]; then
  ENCODE_SIZES=(256 512 1024)
  INGEST_SIZES=(512 1024)
  PRECISIONS=(fp32 bf16)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
  ENCODE_SIZES=(16 64)
  INGEST_SIZES=(64)
  PRECISIONS=(fp32)  # bf16 autocast is for GPUs (see closp_core/embedder.py)
fi
echo "== host: $(nproc) cores, $("$PYTHON" -c 'import torch; print("torch", torch.__version__)')"
start=$SECONDS

echo "== 1. encoder only (CLOSP-RN): chips/s per batch size, fp32 vs bf16, peak GPU memory"
"$PYTHON" -m bench.encode --device "$DEVICE" --batch-sizes "${ENCODE_SIZES[@]}" \
  --precisions "${PRECISIONS[@]}" "${QUICK[@]}"
echo "   ($((SECONDS - start)) s so far)"

echo "== 2. ingest end to end next to encoder-only (CrisisLandMark HDF5, BigEarthNet folders)"
"$PYTHON" -m bench.ingest --device "$DEVICE" --data "$DATA" --readers crisislandmark \
  --batch-sizes "${INGEST_SIZES[@]}" "${QUICK[@]}"
"$PYTHON" -m bench.ingest --device "$DEVICE" --data "$DATA" --readers bigearthnet \
  --batch-sizes "${INGEST_SIZES[0]}" "${QUICK[@]}"
echo "== done in $((SECONDS - start)) s"

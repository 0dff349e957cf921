#!/usr/bin/env bash
# The acceptance run for a lent GPU machine: minigrad's GPU path checked end to end, within a time budget.
#
#   benchmarks/gpu_check.sh                  # from anywhere; runs in the checkout, with PYTHONPATH=. (no install)
#   GPU_CHECK_DRY=1 benchmarks/gpu_check.sh  # or --dry-run: record every step's command, run none of them
#
# Steps, in order: env (nvidia-smi, versions), kernels (every CUDA kernel against its NumPy reference),
# gpu_tests (pytest -m gpu), parity (the CNN's gradients against PyTorch on the GPU, TF32 off), train and
# evaluate the CNN (2 epochs) and the U-Net encoder (1 epoch) on the GPU, each checkpoint evaluated on the
# CPU, and benchmarks/compare_torch.py --device cuda for both. Without a GPU (CuPy sees no device) the GPU
# steps are recorded as "skipped: no GPU" and the kernels run in numba's CUDA simulator.
#
# Each step's stdout and stderr go to $OUT/logs/<step>.log, and $OUT/summary.json (rewritten after every
# step) lists each step's name, command, status, exit status and seconds. A step that fails does not stop
# the others. Exit status: 0 every step passed on a GPU, 1 a step failed or ran out of time, 2 no GPU.
#
# Settings (environment variables):
#   OUT                 where logs, runs and summary.json go (default: gpu_check_out in the checkout)
#   PYTHON              the interpreter (default python3)
#   DATA                bloodmnist.npz, or the folder holding it (default data/bloodmnist.npz)
#   GPU_CHECK_BUDGET    seconds for all steps together (default 480); a step gets at most what is left
#   GPU_CHECK_KERNELS   a pytest -k expression limiting the kernel step (default: every kernel)
#   GPU_CHECK_DRY=1     the dry run

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/gpu_check_out}
mkdir -p "$OUT/logs" "$OUT/runs" && OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 1
export PYTHONPATH="$ROOT"
export PY=${PYTHON:-python3}
DATA=${DATA:-data/bloodmnist.npz}
BUDGET=${GPU_CHECK_BUDGET:-480}
KERNELS=${GPU_CHECK_KERNELS:-}
DRY=${GPU_CHECK_DRY:-0}
for arg in "$@"; do
    case $arg in
        --dry-run) DRY=1 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $arg (see --help)" >&2; exit 64 ;;
    esac
done

RECORDS=$OUT/steps.tsv
: > "$RECORDS"
START=$(date +%s%N)

milliseconds_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

write_summary() {
    "$PY" - "$RECORDS" "$OUT/summary.json" "$GPU" "$DRY" "$BUDGET" "$(milliseconds_since "$START")" <<'PYTHON'
import json, sys
records, out, gpu, dry, budget, ms = sys.argv[1:]
steps = []
for line in open(records):
    name, command, status, code, took, log = line.rstrip("\n").split("\t")
    ran = code != ""
    steps.append({"name": name, "command": command, "status": status, "exit_status": int(code) if ran else None,
                  "seconds": int(took) / 1000, "log": log if ran else None})
failed = [s["name"] for s in steps if s["status"] in ("failed", "timed out", "skipped: out of time")]
json.dump({"gpu": gpu == "1", "dry_run": dry == "1", "budget_s": int(budget), "seconds": int(ms) / 1000,
           "failed": failed, "steps": steps}, open(out, "w"), indent=2)
PYTHON
}

# step NAME NEEDS LIMIT COMMAND: run COMMAND under `timeout` for at most LIMIT seconds and what is left of
# the budget, log it and record it. NEEDS is none, gpu, or data (bloodmnist.npz, and the GPU).
step() {
    local name=$1 needs=$2 limit=$3 command=$4 status code="" took=0 began left
    left=$(( BUDGET - $(milliseconds_since "$START") / 1000 ))
    [ "$left" -lt "$limit" ] && limit=$left
    echo "== $name: $command"
    if [ "$DRY" = 1 ]; then
        status="dry run: not run"
    elif [ "$needs" != none ] && [ "$GPU" != 1 ]; then
        status="skipped: no GPU"
    elif [ "$needs" = data ] && [ ! -e "$DATA" ]; then
        status="skipped: no data at $DATA"
    elif [ "$limit" -lt 10 ]; then
        status="skipped: out of time"
    else
        began=$(date +%s%N)
        timeout --kill-after=10 "$limit" bash -c "$command" > "$OUT/logs/$name.log" 2>&1
        code=$?
        took=$(milliseconds_since "$began")
        case $code in
            0) status=passed ;;
            124|137) status="timed out" ;;
            *) status=failed ;;
        esac
    fi
    echo "   $status${code:+ (exit $code after $(( took / 1000 )) s of at most $limit s; logs/$name.log)}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$command" "$status" "$code" "$took" "logs/$name.log" >> "$RECORDS"
    write_summary
}

env_report() {
    nvidia-smi || echo "nvidia-smi: not found, or it failed"
    "$PY" - <<'PYTHON'
import importlib, platform, sys
print("python", sys.version.split()[0], "on", platform.platform())
for name in ("numpy", "numba", "numba_cuda", "cupy", "torch", "sklearn"):
    try:
        print(name, getattr(importlib.import_module(name), "__version__", "(no __version__)"))
    except Exception as e:
        print(name, "not importable:", type(e).__name__, e)
try:
    import cupy
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    print("cupy sees", cupy.cuda.runtime.getDeviceCount(), "GPU(s); GPU 0:", name.decode(), "| CUDA runtime",
          cupy.cuda.runtime.runtimeGetVersion(), "| driver", cupy.cuda.runtime.driverGetVersion())
except Exception as e:
    print("cupy: no GPU:", type(e).__name__, e)
try:
    import torch
    print("torch CUDA", torch.version.cuda, "| available:", torch.cuda.is_available(),
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
except Exception as e:
    print("torch:", type(e).__name__, e)
PYTHON
}
export -f env_report

GPU=0
timeout 120 "$PY" -c 'import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0' > "$OUT/logs/detect_gpu.log" 2>&1 \
    && GPU=1
[ "$GPU" = 1 ] && echo "GPU found" || echo "no GPU (logs/detect_gpu.log says why): the GPU steps are skipped"

SIMULATOR=$([ "$GPU" = 1 ] && echo 0 || echo 1)
DATA_FOLDER=$([ -d "$DATA" ] && echo "$DATA" || dirname "$DATA")
TEST="$PY -m pytest -q -p no:cacheprovider -rs"
ON_GPU="--device cuda --no-progress --overwrite --data $DATA"
COMPARE="MEDMNIST_ROOT=$DATA_FOLDER $PY benchmarks/compare_torch.py --device cuda --epochs 2 --limit 2000"

step env none 60 "env_report"
step kernels none 150 "NUMBA_ENABLE_CUDASIM=$SIMULATOR $TEST tests/test_kernel_registry.py${KERNELS:+ -k '$KERNELS'}"
step gpu_tests gpu 150 "$TEST -m gpu -k 'not pytorch_on_gpu'"
step parity gpu 60 "$TEST -m gpu tests/test_backends.py -k pytorch_on_gpu"
step train_cnn data 120 "$PY -m models.cli train cnn --epochs 2 $ON_GPU --out $OUT/runs/cnn"
step evaluate_cnn data 60 "$PY -m models.cli evaluate $OUT/runs/cnn/checkpoint_cnn.npz --device cpu --data $DATA"
step compare_cnn data 120 "$COMPARE --model cnn --threads 4 --out $OUT/compare"
step train_unet data 240 "$PY -m models.cli train unet_encoder --epochs 1 $ON_GPU --out $OUT/runs/unet_encoder"
step evaluate_unet data 90 \
    "$PY -m models.cli evaluate $OUT/runs/unet_encoder/checkpoint_unet_encoder.npz --device cpu --data $DATA"
step compare_unet data 180 "$COMPARE --model unet_encoder --threads 4 --out $OUT/compare"

rm -f "$RECORDS"
echo "summary: $OUT/summary.json"
"$PY" -c "import json, sys; failed = json.load(open(sys.argv[1]))['failed']
print('failed:', ', '.join(failed) or 'none'); sys.exit(1 if failed else 0)" "$OUT/summary.json" || exit 1
[ "$GPU" = 1 ] || [ "$DRY" = 1 ] || exit 2

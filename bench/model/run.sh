#!/usr/bin/env bash
# bench/model/run.sh — CLIP training step (forward + backward) samples/s on
# the CPU: trainer/model on the CPU backend (bench/model, Go) against
# PyTorch/open_clip (torch_step.py) with the same config, batch, thread count
# and loss (open_clip ClipLoss), in the same run. Issue 7's target: ≥ 0.5×.
#
#   bench/model/run.sh [CONFIG...]        default: small ViT-B-32
#
# Environment: THREADS (GOMAXPROCS and torch.set_num_threads; default nproc),
# BATCH (32), ROUNDS (1: each config runs Go then PyTorch ROUNDS times,
# alternating, and the table takes the median of the rounds' medians),
# STEPS / WARMUP (default 7 / 2 for small and tiny, 2 / 1 for the ViT-B
# configs, which take tens of seconds per step on two cores),
# CLIPSTREAM_VENV (a venv with torch and open_clip; default
# ~/.cache/clipstream/venv, created with pip install torch open-clip-torch
# when it lacks them).
#
# Raw JSON lines go to bench/out/model-DATE.jsonl; the table goes to stdout.
# Record results in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-$(nproc)}
BATCH=${BATCH:-32}
ROUNDS=${ROUNDS:-1}
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(small ViT-B-32)

cache=${XDG_CACHE_HOME:-$HOME/.cache}/clipstream
venv=${CLIPSTREAM_VENV:-$cache/venv}
if ! "$venv/bin/python" -c 'import torch, open_clip' 2>/dev/null; then
	echo "making a venv with torch and open-clip-torch in $venv" >&2
	mkdir -p "$(dirname "$venv")"
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet torch open-clip-torch
fi
py="$venv/bin/python"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/benchmodel" ./bench/model
mkdir -p bench/out
raw=bench/out/model-$(date +%Y%m%d-%H%M%S).jsonl
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS, batch $BATCH" >&2

for cfg in "${configs[@]}"; do
	case $cfg in
	ViT-*) steps=${STEPS:-2} warmup=${WARMUP:-1} ;;
	*) steps=${STEPS:-7} warmup=${WARMUP:-2} ;;
	esac
	json=$("$tmp/benchmodel" -config "$cfg" -print-config)
	for _ in $(seq "$ROUNDS"); do
		GOMAXPROCS=$THREADS "$tmp/benchmodel" -config "$cfg" -batch "$BATCH" -threads "$THREADS" \
			-warmup "$warmup" -steps "$steps" | tee -a "$raw" >&2
		OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS "$py" bench/model/torch_step.py \
			--config-json "$json" --name "$cfg" --batch "$BATCH" --threads "$THREADS" \
			--warmup "$warmup" --steps "$steps" | tee -a "$raw" >&2
	done
done

"$py" - "$raw" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["config"], {}).setdefault(r["impl"], []).append(r)
print(f"{'config':<10} {'batch':>5} {'thr':>3} {'params':>11} | {'ours s/step':>11} {'samples/s':>9} | {'torch s/step':>12} {'samples/s':>9} | {'ours/torch':>10}")
ratios = []
for cfg, d in by.items():
    o = statistics.median(r["s_per_step"] for r in d["clipstream"])
    t = statistics.median(r["s_per_step"] for r in d["pytorch"])
    r0 = d["clipstream"][0]
    print(f"{cfg:<10} {r0['batch']:>5} {r0['threads']:>3} {r0['params']:>11,} | {o:>11.3f} {r0['batch']/o:>9.1f} | {t:>12.3f} {r0['batch']/t:>9.1f} | {t/o:>10.2f}")
    ratios.append(f"{cfg} {t/o:.2f}")
print("ratio ours/PyTorch (samples/s, same run): " + ", ".join(ratios))
PY

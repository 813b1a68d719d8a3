#!/usr/bin/env bash
# gpu-check.sh — the CUDA backend's checks on a GPU machine that has no Go
# and no network (issue 9), in two halves:
#
#   scripts/gpu-check.sh build      on a machine with Go (no GPU needed):
#                                   builds .gpucheck/gpu.test (go test -c ./gpu)
#                                   and .gpucheck/clipstream, for linux/amd64,
#                                   and downloads the open_clip wheels (and
#                                   ftfy, wcwidth) into .gpucheck/whl
#   scripts/gpu-check.sh run        on the GPU machine, from the repo root, with
#                                   .gpucheck carried along, in this order:
#                                   1. the op checks (every op against the CPU
#                                      reference, fp32 and bf16);
#                                   2. ten steps of the small model on the CPU
#                                      and on CUDA (fp32 and bf16) from the same
#                                      seed: the loss trajectories within 1e-2;
#                                   3. ViT-B-32 training steps on CUDA in bf16
#                                      (clipstream bench): samples/s and MFU;
#                                   4. the same in open_clip with PyTorch bf16
#                                      autocast (bench/gpu/openclip_bench.py),
#                                      for the ratio (target ≥ 1.2×, MFU ≥ 40%);
#                                   and prints one table last
#   scripts/gpu-check.sh --dry-run  shows what build and run would do, checks
#                                   what it can here, runs nothing heavy
#
# For a GPU machine without Go or network access: build on a machine with Go,
# copy the working tree including .gpucheck/ to the GPU machine, and run
#     scripts/gpu-check.sh run
# and a timeout that leaves room for a rerun (each stage has its own timeout;
# the whole check must stay within 8 minutes). Results go to $OUT when it is
# set (gpu-check.log, ops.tsv, traj-*.json, bench-*.json, summary.txt), else
# to .gpucheck/out. MFU is against PEAK_TFLOPS (default 790: the bf16 GEMM
# rate measured on random data on an H200; its datasheet says 989 dense).
#
# The op checks are the test binary's TestOpsAgainstCPU / TestGPUExtras /
# TestGPUErrors (gpu/ops_test.go): fresh random inputs, outputs poisoned
# with NaN, relative error < 1e-5 (fp32) and < 1e-2 (bf16). The script sets
# CLIPSTREAM_REQUIRE_GPU=1, so a missing device is a failure, not a skip.
# When the op checks or a loss trajectory fail, the same call reruns them
# with CLIPSTREAM_GPU_SYNC=1 (ops wait to be launched) and with
# CLIPSTREAM_GPU_NO_SHADOWS=1 (every bf16 operand cast before its GEMM); a
# trajectory also with CLIPSTREAM_GPU_NO_PREFETCH=1 (no pixel upload during
# the backward). The table gets a row for each, so one run says which the
# failure follows.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.gpucheck
mode=${1:-}
dry=0
case "$mode" in
	--dry-run | -n) dry=1 ;;
	build | run) ;;
	-h | --help | "")
		sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "gpu-check.sh: unknown mode $mode (build, run or --dry-run)" >&2
		exit 2
		;;
esac

say() { printf '== %s\n' "$*"; }
show() { printf '   $ %s\n' "$*"; }

# ---------------------------------------------------------------- build
# open_clip and what the GPU machine's image lacks of its requirements
# (it has torch, torchvision, regex, tqdm, huggingface-hub, safetensors, timm)
wheels=(open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.2.13)
PEAK_TFLOPS=${PEAK_TFLOPS:-790}
build_cmds=(
	"go test -c -trimpath -ldflags=-s\\ -w -o $DIR/gpu.test ./gpu"
	"go build -trimpath -ldflags=-s\\ -w -o $DIR/clipstream ./cmd/clipstream"
	"gzip -f -6 $DIR/gpu.test $DIR/clipstream   (unpacked on the GPU machine outside \$OUT)"
)

do_build() {
	command -v go >/dev/null || { echo "gpu-check.sh build: needs Go" >&2; exit 1; }
	mkdir -p "$DIR"
	# keep the build out of git, so that it travels only when carried
	if [ -d .git/info ] && ! grep -qx "/$DIR/" .git/info/exclude 2>/dev/null; then
		echo "/$DIR/" >>.git/info/exclude
	fi
	export CGO_ENABLED=1 GOOS=linux GOARCH=amd64
	say "building the op-check test binary and clipstream (cgo on, linux/amd64)"
	go test -c -trimpath -ldflags='-s -w' -o "$DIR/gpu.test" ./gpu
	go build -trimpath -ldflags='-s -w' -o "$DIR/clipstream" ./cmd/clipstream
	# compressed, they carry in well under the 64 MiB limit (~55 MB raw)
	gzip -f -6 "$DIR/gpu.test" "$DIR/clipstream"
	git rev-parse --short HEAD >"$DIR/commit" 2>/dev/null || echo unknown >"$DIR/commit"
	say "downloading the open_clip wheels for the GPU machine's Python 3.12"
	rm -rf "$DIR/whl"
	if python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_17_x86_64 -d "$DIR/whl" "${wheels[@]}"; then
		ls "$DIR/whl"
	else
		echo "gpu-check.sh build: could not download ${wheels[*]}: the open_clip comparison will not run" >&2
	fi
	ls -l "$DIR"
	total=$(du -sk "$DIR" | cut -f1)
	echo "$DIR: ${total} KiB (the working tree plus carried paths must stay under 64 MiB)"
	echo "next, on the GPU machine: scripts/gpu-check.sh run   (carry $DIR)"
}

# ------------------------------------------------------------------ run
do_run() {
	local out=${OUT:-$DIR/out}
	mkdir -p "$out"
	local log=$out/gpu-check.log
	: >"$log"
	# the binaries travel gzipped; unpack them outside $out (which comes back)
	local bindir
	bindir=$(mktemp -d "${TMPDIR:-/tmp}/gpucheck-bin.XXXXXX")
	for f in gpu.test clipstream; do
		if [ -f "$DIR/$f.gz" ]; then
			gzip -dc "$DIR/$f.gz" >"$bindir/$f" && chmod +x "$bindir/$f"
		elif [ -x "$DIR/$f" ]; then
			cp "$DIR/$f" "$bindir/$f"
		fi
		[ -x "$bindir/$f" ] || { echo "gpu-check.sh run: $DIR/$f.gz missing: run 'scripts/gpu-check.sh build' where Go is, and carry $DIR" >&2; exit 1; }
	done
	declare -a rows
	row() { rows+=("$(printf '%-30s %-8s %s' "$1" "$2" "$3")"); }
	local t0=$SECONDS status=0

	say "machine" | tee -a "$log"
	{
		echo "commit: $(cat "$DIR/commit" 2>/dev/null || echo unknown)"
		command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: not found"
		python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo "torch: not importable"
	} 2>&1 | tee -a "$log"

	say "op checks (gpu.test)" | tee -a "$log"
	local rc=0 bin rep
	bin=$bindir/gpu.test
	rep=$(realpath "$out")/ops.tsv
	# from gpu/, as go test would run it
	(cd gpu && CLIPSTREAM_REQUIRE_GPU=1 CLIPSTREAM_REQUIRE_NVRTC=1 \
		CLIPSTREAM_GPU_REPORT="$rep" "$bin" -test.v -test.count=1 -test.timeout=5m) >>"$log" 2>&1 || rc=$?
	# the test binary prints its own table last; show it
	sed -n '/^op  *prec/,/^op checks:/p' "$log"
	grep -E '^(--- FAIL|FAIL|panic)' "$log" | head -20 || true
	if [ -s "$out/ops.tsv" ]; then
		for prec in fp32 bf16; do
			summary=$(awk -F'\t' -v p="$prec" 'NR>1 && $2==p {n++; if ($6!="ok") f++; if ($4+0>m) m=$4+0} END {printf "%d checks, %d failed, max rel.err %.2e", n, f, m}' "$out/ops.tsv")
			row "op checks $prec" "$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" "$summary"
		done
	else
		row "op checks" FAIL "no report (exit $rc; see gpu-check.log)"
	fi
	[ "$rc" -eq 0 ] || status=1
	# On a failure, bisect in the same call: rerun the op checks with
	# synchronous submission, then without bf16 shadows, so the table says
	# which of the two (if either) the failure follows.
	if [ "$rc" -ne 0 ]; then
		local var
		for var in CLIPSTREAM_GPU_SYNC CLIPSTREAM_GPU_NO_SHADOWS; do
			say "op checks again with $var=1" | tee -a "$log"
			local rc2=0
			(cd gpu && env "$var=1" CLIPSTREAM_REQUIRE_GPU=1 CLIPSTREAM_REQUIRE_NVRTC=1 \
				CLIPSTREAM_GPU_REPORT="$rep.$var" "$bin" -test.v -test.count=1 -test.timeout=3m) >>"$log" 2>&1 || rc2=$?
			local failed
			failed=$(awk -F'\t' 'NR>1 && $6!="ok" {n++} END {print n+0}' "$rep.$var" 2>/dev/null || echo "?")
			row "op checks, ${var#CLIPSTREAM_GPU_}=1" "$([ "$rc2" -eq 0 ] && echo ok || echo FAIL)" "$failed failed (exit $rc2)"
		done
	fi

	say "clipstream binary" | tee -a "$log"
	if "$bindir/clipstream" --help >>"$log" 2>&1; then
		row "clipstream --help" ok "the binary built elsewhere runs here"
	else
		row "clipstream --help" FAIL "see gpu-check.log"
		status=1
	fi

	# ------------------------------------------------- loss trajectories
	# Ten steps of the small model from the same seed and synthetic
	# batches on the CPU and on CUDA, each precision against the CPU in the
	# same one (bf16: ops.CPU.BF16GEMM rounds the same GEMM operands): the
	# losses within 1e-2.
	say "ten steps of the small model: CPU vs CUDA" | tee -a "$log"
	local cs="$bindir/clipstream"
	local traj=(bench --model small --batch 32 --warmup 0 --steps 10 --seed 1 --lr 1e-3 --json)
	for prec in fp32 bf16; do
		# the CPU reference in the same precision (bf16: the same GEMM operands rounded)
		timeout -k 10 240 "$cs" "${traj[@]}" --device cpu --precision "$prec" >"$out/traj-cpu-$prec.txt" 2>>"$log" || true
		timeout -k 10 120 "$cs" "${traj[@]}" --device cuda --precision "$prec" >"$out/traj-cuda-$prec.txt" 2>>"$log" || true
		cat "$out/traj-cuda-$prec.txt" >>"$log"
		local verdict
		verdict=$(python3 - "$out/traj-cpu-$prec.txt" "$out/traj-cuda-$prec.txt" <<'PY'
import json, sys
def losses(p):
    try:
        return json.loads(open(p).read().strip().splitlines()[-1])["losses"]
    except Exception as e:
        return None
cpu, gpu = losses(sys.argv[1]), losses(sys.argv[2])
if cpu is None or gpu is None:
    print("FAIL no result (%s)" % ("cpu" if cpu is None else "cuda"))
elif len(cpu) != len(gpu):
    print("FAIL %d vs %d steps" % (len(cpu), len(gpu)))
else:
    d = max(abs(a - b) for a, b in zip(cpu, gpu))
    print("%s max |loss diff| %.2e over %d steps (cpu %.4f→%.4f)" % ("ok" if d <= 1e-2 else "FAIL", d, len(cpu), cpu[0], cpu[-1]))
PY
)
		row "small, 10 steps, $prec" "${verdict%% *}" "${verdict#* }"
		if [ "${verdict%% *}" != ok ]; then
			status=1
			# bisect as for the op checks: all switches, then each
			local sw
			for sw in "CLIPSTREAM_GPU_SYNC=1 CLIPSTREAM_GPU_NO_SHADOWS=1 CLIPSTREAM_GPU_NO_PREFETCH=1" CLIPSTREAM_GPU_SYNC=1 CLIPSTREAM_GPU_NO_SHADOWS=1 CLIPSTREAM_GPU_NO_PREFETCH=1; do
				# shellcheck disable=SC2086
				env $sw timeout -k 10 120 "$cs" "${traj[@]}" --device cuda --precision "$prec" >"$out/traj-cuda-$prec-bisect.txt" 2>>"$log" || true
				verdict=$(python3 - "$out/traj-cpu-$prec.txt" "$out/traj-cuda-$prec-bisect.txt" <<'PY'
import json, sys
def losses(p):
    try:
        return json.loads(open(p).read().strip().splitlines()[-1])["losses"]
    except Exception:
        return None
cpu, gpu = losses(sys.argv[1]), losses(sys.argv[2])
if cpu is None or gpu is None or len(cpu) != len(gpu):
    print("FAIL no comparable result")
else:
    d = max(abs(a - b) for a, b in zip(cpu, gpu))
    print("%s max |loss diff| %.2e" % ("ok" if d <= 1e-2 else "FAIL", d))
PY
)
				row "  $prec with ${sw//CLIPSTREAM_GPU_/}" "${verdict%% *}" "${verdict#* }"
			done
		fi
	done

	# ------------------------------------------------- ViT-B-32 benchmark
	say "ViT-B-32 training steps: clipstream (bf16)" | tee -a "$log"
	local vb=(bench --model ViT-B-32 --batch 256 --warmup 3 --steps 20 --peak-tflops "$PEAK_TFLOPS" --json)
	timeout -k 10 240 "$cs" "${vb[@]}" --device cuda --precision bf16 >"$out/bench-clipstream.txt" 2>>"$log" || true
	tail -n 25 "$out/bench-clipstream.txt" >>"$log"

	say "ViT-B-32 training steps: open_clip (PyTorch bf16 autocast)" | tee -a "$log"
	if ls "$DIR"/whl/open_clip_torch-*.whl >/dev/null 2>&1; then
		python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpucheck-site "$DIR"/whl/*.whl >>"$log" 2>&1 || true
		PYTHONPATH=/tmp/gpucheck-site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 timeout -k 10 240 python3 bench/gpu/openclip_bench.py \
			--device cuda --precision bf16 --model ViT-B-32 --batch 256 --warmup 3 --steps 20 --peak-tflops "$PEAK_TFLOPS" \
			>"$out/bench-openclip.txt" 2>>"$log" || true
		tail -n 25 "$out/bench-openclip.txt" >>"$log"
	else
		echo "no open_clip wheel in $DIR/whl (scripts/gpu-check.sh build downloads it)" | tee -a "$log"
	fi
	local bench
	bench=$(python3 - "$out/bench-clipstream.txt" "$out/bench-openclip.txt" <<'PY'
import json, sys
def result(p):
    try:
        return json.loads(open(p).read().strip().splitlines()[-1])
    except Exception:
        return None
ours, ref = result(sys.argv[1]), result(sys.argv[2])
def desc(r):
    d = "%.0f samples/s, %.1f ms/step, %.0f TFLOP/s, MFU %.1f%%" % (r["samples_per_s"], r["median_step_ms"], r["tflops"], 100 * r.get("mfu", 0))
    if "forward_ms" in r:
        d += " (fwd %.1f, bwd %.1f, opt %.1f ms)" % (r["forward_ms"], r["backward_ms"], r["optimizer_ms"])
    return d
print("ViT-B-32 clipstream bf16\t%s\t%s" % (("ok" if ours and ours.get("mfu", 0) >= 0.4 else "BELOW") if ours else "FAIL", desc(ours) if ours else "no result (see gpu-check.log)"))
print("ViT-B-32 open_clip bf16\t%s\t%s" % ("ok" if ref else "FAIL", desc(ref) + ", torch " + ref.get("torch", "?") if ref else "no result (see gpu-check.log)"))
if ours and ref:
    r = ours["samples_per_s"] / ref["samples_per_s"]
    print("ratio clipstream/open_clip\t%s\t%.2fx (target >= 1.2x)" % ("ok" if r >= 1.2 else "BELOW", r))
PY
)
	while IFS=$'\t' read -r name res detail; do
		[ -n "$name" ] && row "$name" "$res" "$detail"
		[ "$res" = FAIL ] && status=1
	done <<<"$bench"
	row "wall time" "" "$((SECONDS - t0)) s"
	{
		echo
		printf '%-30s %-8s %s\n' "check" "result" "detail"
		printf '%s\n' "${rows[@]}"
	} | tee "$out/summary.txt" | tee -a "$log"
	exit $status
}

# -------------------------------------------------------------- dry run
do_dry() {
	say "dry run: nothing is built or run"
	echo "build (here, needs Go; CGO_ENABLED=1 GOOS=linux GOARCH=amd64):"
	for c in "${build_cmds[@]}"; do show "${c//\\ / }"; done
	if command -v go >/dev/null; then
		echo "   go: $(go version)"
	else
		echo "   go: NOT FOUND (build must run where Go is)"
	fi
	command -v gcc >/dev/null && echo "   cgo compiler: $(gcc --version | head -1)" || echo "   cgo compiler: NOT FOUND"
	echo "run (GPU machine, repo root, carry $DIR):"
	show "CLIPSTREAM_REQUIRE_GPU=1 CLIPSTREAM_REQUIRE_NVRTC=1 CLIPSTREAM_GPU_REPORT=\$OUT/ops.tsv $DIR/gpu.test -test.v -test.count=1 -test.timeout=5m"
	show "$DIR/clipstream --help"
	show "$DIR/clipstream bench --model small --batch 32 --warmup 0 --steps 10 --seed 1 --lr 1e-3 --json --device cpu|cuda [--precision fp32|bf16]   (loss trajectories within 1e-2)"
	show "$DIR/clipstream bench --model ViT-B-32 --batch 256 --warmup 3 --steps 20 --peak-tflops $PEAK_TFLOPS --json --device cuda --precision bf16"
	show "pip install --no-index --target /tmp/gpucheck-site $DIR/whl/*.whl   (${wheels[*]})"
	show "python3 bench/gpu/openclip_bench.py --device cuda --precision bf16 --model ViT-B-32 --batch 256 --warmup 3 --steps 20"
	echo "on the GPU machine, from the repository root with $DIR copied along:"
	show "scripts/gpu-check.sh run"
	echo "op checks that would run (from gpu/ops_test.go):"
	grep -o 'name: "[^"]*"' gpu/ops_test.go | sed 's/name: //; s/"//g; s/[/]$//' | paste -sd' ' | fold -s -w 90 | sed 's/^/   /'
	echo "   (each in fp32 and bf16; Activation for GELU and QuickGELU, Attention causal and full)"
	echo "   TestGPUExtras: AdamWStep (+bf16 copy), bf16 casts, SumSquares, NormalizeImages, UploadPatches, PrefetchPixels (copy stream); TestGPUErrors;
   TestBF16Shadows: each producer's bf16 shadow bit-exact, GEMMs on shadows = on fresh casts, writes make them stale
   TestDeviceTrajectory: 4 tiny-model steps against the CPU (bf16: its bf16 reference); TestDeviceResume: a checkpoint and resume through trainer.Run"
	if [ -d "$DIR" ]; then
		echo "$DIR now: $(ls "$DIR" | tr '\n' ' ')($(du -sk "$DIR" | cut -f1) KiB)"
	else
		echo "$DIR: not built yet"
	fi
}

case "$mode" in
	build) do_build ;;
	run) do_run ;;
	*) do_dry ;;
esac

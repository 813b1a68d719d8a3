#!/usr/bin/env bash
# bench/loader/run.sh — the loader delivering 224 px training batches (RandomResizedCrop
# scale 0.9–1.0, bicubic, CLIP-normalised float32 NCHW, batches of 64, captions tokenised)
# from 256 px JPEG shards, against the Python webdataset loader (PIL decode, the same crop
# with PIL, numpy normalisation, batches of 64; no torch) on the same shards in the same run.
#
#   bench/loader/run.sh [RUNS] [SAMPLES]      (defaults 3 and 4000)
#
# 1. builds SAMPLES photo-like 256 px JPEG samples (25–45 KB) into 250-sample shards
#    with shardwriter (bench/loader/main.go gen), in a temp dir;
# 2. RUNS times, interleaved: our loader on file:// with GOMAXPROCS=1 and =2, and
#    wds_loader.py (one process) reading the same shards through `pipe:zstd -dc < FILE`;
# 3. under scripts/minio.sh run: copies the shards into MinIO and alternates RUNS runs of
#    our loader through an in-process toxiproxy without and with 50 ms added to every
#    response (GOMAXPROCS = all cores; at least 5 pairs). fetch-wait-s is the time the
#    loader waited for shards to arrive, the latency its prefetch did not hide;
# 4. the same pairs with the loader on one core (GOMAXPROCS=1) and the toxiproxy in a child
#    process of its own, so that on a small machine the proxy's work is not charged to the
#    loader's core (as a remote store's would not be); twice as many pairs, since one core's
#    wall time is what is compared. Pairs alternate their order (ABBA).
#
# "per core" is samples per CPU-second of the whole process (user+system; for Python its
# zstd children too), which stays meaningful on a busy machine where wall time does not.
# Medians of the runs; the last line is the ratio to webdataset per core.
#
# The anchor lives in a virtualenv under $CLIPSTREAM_CACHE (default ~/.cache/clipstream):
# venv-webdataset-1.0.2 with webdataset 1.0.2, pillow and numpy (created if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
SAMPLES=${2:-4000}
S3RUNS=$((RUNS < 5 ? 5 : RUNS)) # wall-time pairs: more of them, the machine may be busy
CACHE=${CLIPSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clipstream}
VENV=$CACHE/venv-webdataset-1.0.2

log() { echo "run.sh: $*" >&2; }

if ! "$VENV/bin/python" -c 'import webdataset, PIL, numpy' 2>/dev/null; then
	log "setting up $VENV"
	[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q webdataset==1.0.2 pillow numpy
fi
command -v zstd >/dev/null || { log "zstd is needed for the webdataset pipe: URLs"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/clipstream-loaderbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/loaderbench" ./bench/loader
"$work/loaderbench" gen -dir "$work/ds" -n "$SAMPLES" -shard 250 >&2

mkdir -p bench/out
raw=bench/out/loader-$(date +%Y%m%d-%H%M%S).txt
{
	echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cpus; load $(cut -d' ' -f1-3 /proc/loadavg); $(go version)"
	for r in $(seq 1 "$RUNS"); do
		log "run $r of $RUNS: file://"
		GOMAXPROCS=1 "$work/loaderbench" run -url "file://$work/ds" -label go-file-p1
		GOMAXPROCS=2 "$work/loaderbench" run -url "file://$work/ds" -label go-file-p2
		"$VENV/bin/python" bench/loader/wds_loader.py "$work/ds" --label wds
	done
	log "s3:// through toxiproxy"
	scripts/minio.sh run "$work/loaderbench" s3 -dir "$work/ds" -runs "$S3RUNS" -latency 50ms
	log "s3:// through a toxiproxy in its own process; the loader on one core"
	GOMAXPROCS=1 scripts/minio.sh run "$work/loaderbench" s3 -dir "$work/ds" -runs "$((2 * S3RUNS))" -latency 50ms -proxy-process
} | tee "$raw" >&2

awk '
/^RESULT/ {
	delete f
	for (i = 2; i <= NF; i++) { split($(i), kv, "="); f[kv[1]] = kv[2] }
	l = f["label"]
	if (!(l in seen)) { seen[l] = 1; order[++n] = l; procs[l] = f["procs"] }
	sps[l] = sps[l] " " f["samples_per_s"]; cps[l] = cps[l] " " f["samples_per_cpu_s"]; fw[l] = fw[l] " " f["fetch_wait_s"]; wall[l] = wall[l] " " f["wall_s"]
	runs[l]++
}
function median(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "%-14s %6s %5s %12s %16s %14s\n", "loader", "procs", "runs", "samples/s", "samples/cpu-s", "fetch-wait-s"
	for (i = 1; i <= n; i++) { l = order[i]
		printf "%-14s %6s %5d %12.1f %16.1f %14s\n", l, procs[l], runs[l], median(sps[l]), median(cps[l]), (l == "wds") ? "-" : sprintf("%.3f", median(fw[l])) }
	print ""
	if ("s3" in seen && "s3+50ms" in seen) {
		printf "s3 with 50 ms latency / without, samples/s (wall time: noisy on a busy machine): %.3f\n", median(sps["s3+50ms"]) / median(sps["s3"])
		# The loader is CPU-bound; latency can only cost it the time spent waiting
		# for shards, which the fetch-wait metric measures.
		extra = median(fw["s3+50ms"]) - median(fw["s3"]); if (extra < 0) extra = 0
		printf "s3 with 50 ms latency / without, from the extra time waiting for shards (%.3f s per run): %.3f\n", extra, median(wall["s3"]) / (median(wall["s3"]) + extra)
	}
	if ("s3-p1" in seen && "s3-p1+50ms" in seen) {
		printf "s3, loader on one core, proxy in its own process: with 50 ms latency / without, samples/s (wall): %.3f\n", median(sps["s3-p1+50ms"]) / median(sps["s3-p1"])
		extra = median(fw["s3-p1+50ms"]) - median(fw["s3-p1"]); if (extra < 0) extra = 0
		printf "s3, loader on one core: with 50 ms latency / without, from the extra time waiting for shards (%.3f s per run): %.3f\n", extra, median(wall["s3-p1"]) / (median(wall["s3-p1"]) + extra)
	}
	printf "GOMAXPROCS=2 / =1 per core (samples/cpu-s): %.2f\n", median(cps["go-file-p2"]) / median(cps["go-file-p1"])
	printf "ratio to webdataset per core (samples/cpu-s, GOMAXPROCS=1 vs one Python process): %.2f\n", median(cps["go-file-p1"]) / median(cps["wds"])
}' "$raw"

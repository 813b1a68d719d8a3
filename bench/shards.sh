#!/usr/bin/env bash
# bench/shards.sh — shard writing speed: crawl-like samples (256 px JPEGs at
# quality 95, alt text, crawl metadata) into 10,000-sample zstd shards, on
# file:// and on a loopback MinIO; samples per CPU-second, MB/s, what zstd
# saves, memory beyond the input images. Medians of COUNT runs.
#
#   bench/shards.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-5}
mkdir -p bench/out
raw=bench/out/shards-$(date +%Y%m%d-%H%M%S).txt
scripts/minio.sh run go test ./shardwriter -run '^$' -bench 'Write' -benchtime 20000x -count "$COUNT" | tee "$raw" >&2
awk '
/^BenchmarkWrite/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkWrite\//, "", name)
	for (i = 2; i <= NF; i++) v[name, $(i)] = v[name, $(i)] " " $(i-1)
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
function median(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "%-28s %14s %10s %9s %11s %14s\n", "write (median)", "samples/cpu-s", "MB/s", "tar/zst", "text-ratio", "MiB-beyond-in"
	for (i = 1; i <= n; i++) { m = order[i]
		printf "%-28s %14.0f %10.1f %9.3f %11.2f %14.1f\n", m, median(v[m, "samples/cpu-s"]), median(v[m, "MB/s"]), median(v[m, "tar/zst"]), median(v[m, "text-ratio"]), median(v[m, "MiB-heap-sys-beyond-input"]) }
	printf "\nratio to the target (5,000 samples per CPU-second to file://, zstd 1): %.2f\n", median(v["file/zstd=1/jpeg=256px", "samples/cpu-s"]) / 5000
}' "$raw"

#!/usr/bin/env bash
# bench/storage.sh — put/get throughput and latency of the storage backends,
# 1 MiB and 256 MiB objects, on file:// and on a loopback MinIO, beside the
# anchors measured in the same run on the same data: minio-go's own
# PutObject/GetObject (defaults, 16 MiB parts) and plain os file writes.
#
#   bench/storage.sh [COUNT]      COUNT runs of each benchmark (default 5); medians reported
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-5}
mkdir -p bench/out
raw=bench/out/storage-$(date +%Y%m%d-%H%M%S).txt
scripts/minio.sh run go test ./storage -run '^$' -bench 'Put|Get|Anchor' -benchtime 2s -count "$COUNT" | tee "$raw" >&2

# Median MB/s and ms/op per benchmark, then the ratios to the anchors.
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	for (i = 2; i <= NF; i++) {
		if ($(i) == "ns/op") ns[name] = ns[name] " " $(i-1)
		if ($(i) == "MB/s") mb[name] = mb[name] " " $(i-1)
	}
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
function median(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "%-42s %12s %12s\n", "benchmark (median of runs)", "MB/s", "ms/op"
	for (i = 1; i <= n; i++) { m = order[i]; printf "%-42s %12.1f %12.2f\n", m, median(mb[m]), median(ns[m]) / 1e6; M[m] = median(mb[m]) }
	print ""
	printf "ratio clipstream/minio-go  put s3 1MiB   : %.2f\n", M["Put/s3/size=1MiB"] / M["Anchor/put/s3-minio-go/size=1MiB"]
	printf "ratio clipstream/minio-go  get s3 1MiB   : %.2f\n", M["Get/s3/size=1MiB"] / M["Anchor/get/s3-minio-go/size=1MiB"]
	printf "ratio clipstream/minio-go  get s3 256MiB : %.2f\n", M["Get/s3/size=256MiB"] / M["Anchor/get/s3-minio-go/size=256MiB"]
	printf "ratio clipstream/os-write  put file 256MiB (fsync+rename vs plain write): %.2f\n", M["Put/file/size=256MiB"] / M["Anchor/put/file-os/size=256MiB"]
	printf "ratio clipstream/minio-go  put s3 256MiB : %.2f\n", M["Put/s3/size=256MiB"] / M["Anchor/put/s3-minio-go/size=256MiB"]
}' "$raw"

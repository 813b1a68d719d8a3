#!/usr/bin/env bash
# Benchmarks of the dedup index (issue 4) at one index size:
#   - Check throughput: one op = an insert and a lookup (a duplicate of a
#     stored sample), parallel goroutines, all kinds on, radius 4, with and
#     without the Bloom filter, with the default band count (3) and the
#     classic radius+1 bands; bytes on disk per stored sample;
#   - CheckBatch (bulk insert) rate;
#   - near-duplicate query rate at radius 4 and 8, 3 bands against the
#     classic radius+1 bands, each followed by a recall check against a
#     brute-force Hamming scan of all stored hashes (500 queries; the
#     benchmark fails unless recall is 100%).
# The prefilled indexes (n generated samples, seeded) are built once and
# cached under the user cache dir (dedup/bench_test.go; DEDUP_BENCH_CACHE
# moves it). At n=10M the first run builds about 10 GB of them, which took
# over an hour on two busy cores; later runs reuse them.
#
# Usage: bench/dedup/run.sh [SIZE] [SEED]
#   SIZE  sub-benchmark size: n=100k, n=1M (default) or n=10M
#   SEED  seed of the generated samples (default 1)
# Environment: COUNT (runs of each benchmark, default 1), BANDS (regex of
# band counts for the Check benchmarks, default [0-9]+; BANDS=3 skips the
# classic layout), NEAR_BANDS (the same for the near-query benchmarks,
# default BANDS), SAMEURL=1 also runs the ten million Checks of one URL.
# Results go to stdout; record them in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-n=1M}"
export DEDUP_BENCH_SEED="${2:-${DEDUP_BENCH_SEED:-1}}"
count="${COUNT:-1}"
bands="${BANDS:-[0-9]+}"
near_bands="${NEAR_BANDS:-${bands}}"
echo "# dedup bench: size ${size}, seed ${DEDUP_BENCH_SEED}, count ${count}, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
go test -count=1 -run 'TestRecallAgainstBruteForce' ./dedup/
bench() { go test -run '^$' -timeout 300m -count "$count" "$@" ./dedup/ | grep -v '^\s*bench_test.go:.*seed .*stored hashes'; }
bench -bench "BenchmarkCheck/bloom=(false|true)/bands=(${bands})/${size}\$" -benchtime 100000x
bench -bench "BenchmarkCheckBatch/bands=(${bands})/${size}\$" -benchtime 100000x
bench -bench "BenchmarkNearQuery/radius=(4|8)/bands=(${near_bands})/${size}\$" -benchtime 5s
if [[ "${SAMEURL:-0}" == 1 ]]; then
	bench -bench 'BenchmarkSameURL$' -benchtime 10000000x
fi
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

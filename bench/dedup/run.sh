#!/usr/bin/env bash
# Benchmarks of the dedup index (issue 4): inserts+lookups per second and
# bytes on disk per sample, with and without the Bloom filter; near-duplicate
# query rate at radius 4 and 8; ten million Checks of one URL.
# Recall against brute force is a test (TestRecallAgainstBruteForce), run
# here too. Usage: bench/dedup/run.sh [SIZE-REGEX]   (default: n=1M)
# Results go to stdout; record them in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-n=1M}"
go test -count=1 -run 'TestRecallAgainstBruteForce' -v ./dedup/ | grep -E '^(---|ok|FAIL)'
go test -run '^$' -bench "BenchmarkCheck/bloom=(false|true)/${size}\$" -benchtime 200000x -timeout 60m ./dedup/
go test -run '^$' -bench "BenchmarkNearQuery/radius=(4|8)/${size}\$" -benchtime 2000x -timeout 60m ./dedup/
go test -run '^$' -bench 'BenchmarkSameURL$' -benchtime 10000000x -timeout 60m ./dedup/

#!/usr/bin/env bash
# test.sh — the whole test suite, exactly as CI runs it (.ci/run calls this).
#
# On a fresh machine it needs only Go (1.26) and bash: it downloads the Go
# modules, builds the pinned MinIO server into the cache once (several
# minutes the first time), starts it on a random loopback port for the tests
# and stops it after. Nothing is skipped: without the S3 server the S3 tests
# fail instead of skipping.
#
#   scripts/test.sh            vet, gofmt, build, tests (-race), short fuzz runs
#   FUZZTIME=30s scripts/test.sh   longer fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-5s}
export CLIPSTREAM_REQUIRE_S3=1 CLIPSTREAM_REQUIRE_INTEROP=1

step() { printf '\n== %s\n' "$*"; }

step "modules"
go mod download

step "gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "build"
go build ./...

step "MinIO"
scripts/minio.sh build

step "tests (race detector on)"
scripts/minio.sh run go test -race -count=1 -timeout 20m ./...

step "demo --quick (the README's first command, checked)"
demo_out=$(mktemp -d)
go run ./cmd/clipstream demo --quick --out "$demo_out/demo" | tee "$demo_out/log"
for want in "[5/5]" "resumed at step" "chance @5"; do
	grep -qF "$want" "$demo_out/log" || { echo "demo output lacks: $want"; exit 1; }
done
for f in report/loss.png report/index.html; do
	[ -s "$demo_out/demo/$f" ] || { echo "demo did not write $f"; exit 1; }
done
rm -rf "$demo_out"

step "fuzz ($FUZZTIME per target)"
# Every Fuzz* function in a _test.go file, run for FUZZTIME from its seeds.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "-- $pkg $name"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tail -n 3
		[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz target $name in $pkg failed"; exit 1; }
	done
done

step "all checks passed"

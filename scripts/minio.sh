#!/usr/bin/env bash
# minio.sh — a real S3 server for the tests.
#
#   scripts/minio.sh build          build the pinned MinIO server into the cache (once)
#   scripts/minio.sh run CMD ARGS   start MinIO on 127.0.0.1 (random free port, temp data
#                                   dir), run CMD with the endpoint and credentials in
#                                   the environment, stop MinIO, exit with CMD's status
#
# The server is built from the Go module proxy at a pinned version into
# $CLIPSTREAM_CACHE (default ~/.cache/clipstream), outside the repository. The
# first build takes several minutes; later runs reuse it.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
CACHE=${CLIPSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clipstream}
BIN_DIR=$CACHE/bin/minio-$MINIO_VERSION
MINIO=$BIN_DIR/minio

log() { echo "minio.sh: $*" >&2; }

build() {
	if [ -x "$MINIO" ]; then
		return
	fi
	log "building MinIO server $MINIO_VERSION into $BIN_DIR (first time only; several minutes)"
	mkdir -p "$BIN_DIR"
	# Built outside any module so the project's go.mod is not involved.
	(cd "$(mktemp -d)" && GOBIN="$BIN_DIR" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION")
	[ -x "$MINIO" ] || { log "build did not produce $MINIO"; exit 1; }
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ready() {
	if command -v curl >/dev/null; then
		curl -fsS "http://127.0.0.1:$1/minio/health/live" >/dev/null 2>&1
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

random_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if port_free "$p"; then echo "$p"; return; fi
	done
}

run() {
	build
	local data pid port cport user pass try
	data=$(mktemp -d "${TMPDIR:-/tmp}/clipstream-minio.XXXXXX")
	user=clipstream$RANDOM
	pass=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	for try in 1 2 3 4 5; do
		port=$(random_port)
		cport=$(random_port)
		MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_BROWSER=off \
			MINIO_UPDATE=off MINIO_CI_CD=1 \
			"$MINIO" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
			"$data/$try" >"$data/minio-$try.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do
			if ready "$port"; then
				break 2
			fi
			if ! kill -0 "$pid" 2>/dev/null; then break; fi
			sleep 0.1
		done
		log "MinIO did not start on port $port (try $try):"
		tail -5 "$data/minio-$try.log" >&2 || true
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	done
	if [ -z "${pid:-}" ]; then
		rm -rf "$data"
		exit 1
	fi
	# shellcheck disable=SC2064
	trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$data'" EXIT
	log "MinIO listening on http://127.0.0.1:$port"
	export AWS_ENDPOINT_URL=http://127.0.0.1:$port
	export AWS_ACCESS_KEY_ID=$user
	export AWS_SECRET_ACCESS_KEY=$pass
	export AWS_REGION=us-east-1
	export CLIPSTREAM_TEST_S3=1
	local rc=0
	"$@" || rc=$?
	return $rc
}

case "${1:-}" in
build) build ;;
run)
	shift
	[ $# -gt 0 ] || { log "usage: minio.sh run CMD [ARGS...]"; exit 2; }
	run "$@"
	;;
*)
	echo "usage: scripts/minio.sh build | run CMD [ARGS...]" >&2
	exit 2
	;;
esac

# make check runs what CI runs (.ci/run → scripts/test.sh).
.PHONY: check test build bench-storage demo

check:
	scripts/test.sh

build:
	go build -o clipstream ./cmd/clipstream

# Unit tests without the S3 server (the S3 tests skip outside CI).
test:
	go test ./...

bench-storage:
	bench/storage.sh

demo:
	go run ./cmd/clipstream demo

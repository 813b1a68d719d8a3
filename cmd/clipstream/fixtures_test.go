package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFixtureSite serves the site until the context ends: it says where,
// and an interrupt ends it with exit code 130.
func TestFixtureSite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	code, stdout, stderr := runCLI(t, ctx, "fixture-site", "--addr", "127.0.0.1:0")
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, stderr)
	}
	if !strings.Contains(stdout, "serving 646 images") || !strings.Contains(stdout, "http://127.0.0.1:") {
		t.Errorf("stdout = %q", stdout)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/storage"
)

// readDemoObject reads demoKey from the store at url, independently of the
// demo.
func readDemoObject(t *testing.T, url string) string {
	t.Helper()
	store, err := storage.Open(t.Context(), url, storage.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer store.Close()
	rc, err := store.Get(t.Context(), demoKey)
	if err != nil {
		t.Fatalf("get %s: %v", demoKey, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", demoKey, err)
	}
	return string(b)
}

func TestDemo(t *testing.T) {
	tests := []struct {
		name string
		out  func(dir string) string
	}{
		{"plain path", func(dir string) string { return dir }},
		{"file URL", func(dir string) string { return "file://" + filepath.ToSlash(dir) }},
		{"directory not there yet", func(dir string) string { return filepath.Join(dir, "a", "b") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.out(t.TempDir())
			wantSteps := []string{"open", "put", "get", "get-range", "stat", "list", "next"}

			for i, wantPut := range []string{"wrote", "already exists"} {
				code, stdout, stderr := runCLI(t, t.Context(), "demo", "--out", out)
				if code != exitOK {
					t.Fatalf("run %d: exit code %d; stderr:\n%s", i+1, code, stderr)
				}
				for _, step := range wantSteps {
					if !strings.Contains(stdout, "\n"+step+" ") && !strings.HasPrefix(stdout, step+" ") {
						t.Errorf("run %d: no %q step in:\n%s", i+1, step, stdout)
					}
				}
				if !strings.Contains(stdout, "file://") {
					t.Errorf("run %d: store URL not printed:\n%s", i+1, stdout)
				}
				if !strings.Contains(stdout, demoKey+": "+wantPut) {
					t.Errorf("run %d: put step does not say %q:\n%s", i+1, wantPut, stdout)
				}
				if !strings.Contains(stdout, "not yet implemented") {
					t.Errorf("run %d: last line does not say the pipeline is not implemented:\n%s", i+1, stdout)
				}
				if stderr != "" {
					t.Errorf("run %d: stderr at the default log level: %q", i+1, stderr)
				}
				if got := readDemoObject(t, out); got != demoContent {
					t.Errorf("run %d: object holds %q, want %q", i+1, got, demoContent)
				}
			}
		})
	}
}

func TestDemoDefaultOut(t *testing.T) {
	t.Chdir(t.TempDir())
	code, stdout, stderr := runCLI(t, t.Context(), "demo")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat("clipstream-demo"); err != nil {
		t.Errorf("default store ./clipstream-demo not created: %v\n%s", err, stdout)
	}
	if got := readDemoObject(t, "clipstream-demo"); got != demoContent {
		t.Errorf("object holds %q, want %q", got, demoContent)
	}
}

func TestDemoKeepsForeignObject(t *testing.T) {
	dir := t.TempDir()
	store, err := storage.Open(t.Context(), dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const foreign = "written by someone else\n"
	if err := store.Put(t.Context(), demoKey, strings.NewReader(foreign), int64(len(foreign))); err != nil {
		t.Fatal(err)
	}
	store.Close()

	code, _, stderr := runCLI(t, t.Context(), "demo", "--out", dir)
	if code != exitFailure {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr)
	}
	if !strings.Contains(stderr, "clipstream demo: get "+demoKey) {
		t.Errorf("stderr does not name the failed step:\n%s", stderr)
	}
	if got := readDemoObject(t, dir); got != foreign {
		t.Errorf("demo overwrote the object: %q", got)
	}
}

func TestDemoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	t.Run("run", func(t *testing.T) {
		code, _, stderr := runCLI(t, ctx, "demo", "--out", t.TempDir())
		if code != exitInterrupted {
			t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
		}
		if !strings.Contains(stderr, "clipstream demo: interrupted") {
			t.Errorf("stderr = %q", stderr)
		}
	})
	t.Run("runDemo", func(t *testing.T) {
		var out bytes.Buffer
		err := runDemo(ctx, demoOptions{Out: t.TempDir()}, &out, slog.New(slog.DiscardHandler))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("runDemo = %v, want context.Canceled", err)
		}
	})
}

func TestDemoLogs(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantLines bool
		json      bool
	}{
		{"debug json", []string{"--log-level", "debug", "--log-format", "json"}, true, true},
		{"debug text", []string{"--log-level=debug"}, true, false},
		{"warn", []string{"--log-level", "warn"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, tt.args...), "demo", "--out", t.TempDir())
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if strings.Contains(stdout, "level=") || strings.Contains(stdout, `"level"`) {
				t.Errorf("log lines on stdout:\n%s", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if !tt.wantLines {
				if stderr != "" {
					t.Errorf("stderr = %q, want nothing", stderr)
				}
				return
			}
			if stderr == "" {
				t.Fatal("no log lines on stderr")
			}
			for _, line := range lines {
				if tt.json {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Errorf("log line is not JSON: %q: %v", line, err)
					} else if m["level"] == nil || m["msg"] == nil {
						t.Errorf("log line lacks level or msg: %q", line)
					}
				} else if !strings.Contains(line, "level=") {
					t.Errorf("log line is not slog text: %q", line)
				}
			}
		})
	}
}

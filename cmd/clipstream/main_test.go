package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runCLI runs one command line through run, as main does, and returns the
// exit code and what was written to stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// allVerbs is every verb path of the binary.
var allVerbs = [][]string{
	{"crawl"},
	{"shards"},
	{"shards", "ls"},
	{"shards", "verify"},
	{"shards", "gc"},
	{"shards", "stats"},
	{"shards", "cat"},
	{"dedup"},
	{"dedup", "stats"},
	{"fixtures"},
	{"fixtures", "fetch"},
	{"fixture-site"},
	{"plot"},
	{"train"},
	{"bench"},
	{"eval"},
	{"demo"},
	{"version"},
}

func TestHelp(t *testing.T) {
	for _, verb := range allVerbs {
		name := strings.Join(verb, " ")
		for _, flag := range []string{"--help", "-h"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, t.Context(), append(append([]string{}, verb...), flag)...)
				if code != exitOK {
					t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitOK, stderr)
				}
				if want := "clipstream " + name; !strings.Contains(stdout, want) {
					t.Errorf("help does not mention %q:\n%s", want, stdout)
				}
				for _, want := range []string{"Usage:", "Examples:"} {
					if !strings.Contains(stdout, want) {
						t.Errorf("help has no %q section:\n%s", want, stdout)
					}
				}
				if stderr != "" {
					t.Errorf("help wrote to stderr: %q", stderr)
				}
			})
		}
	}
}

func TestRootHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"--help", []string{"--help"}},
		{"help verb", []string{"help"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, _ := runCLI(t, t.Context(), tt.args...)
			if code != exitOK {
				t.Fatalf("exit code %d, want 0", code)
			}
			wants := []string{"clipstream <verb> [flags]", "Exit codes:", "--log-level", "--log-format"}
			for _, v := range allVerbs {
				if len(v) == 1 {
					wants = append(wants, "\n  "+v[0]+" ")
				}
			}
			for _, want := range wants {
				if !strings.Contains(stdout, want) {
					t.Errorf("root help lacks %q:\n%s", want, stdout)
				}
			}
			for _, c := range []int{exitOK, exitFailure, exitUsage, exitInterrupted} {
				if !strings.Contains(exitCodesHelp, "\n  "+strconv.Itoa(c)+" ") {
					t.Errorf("exit code %d is not documented in:\n%s", c, exitCodesHelp)
				}
			}
		})
	}
}

// TestEveryCommandDocumented walks the command tree: every verb has a
// one-line Short, a Long and an Example.
func TestEveryCommandDocumented(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() {
				continue // cobra's help and hidden completion
			}
			seen++
			t.Run(sub.CommandPath(), func(t *testing.T) {
				if sub.Short == "" || strings.Contains(sub.Short, "\n") {
					t.Errorf("Short %q is not one line", sub.Short)
				}
				if strings.TrimSpace(sub.Long) == "" {
					t.Error("no Long")
				}
				if strings.TrimSpace(sub.Example) == "" {
					t.Error("no Example")
				}
				if !strings.Contains(sub.Example, sub.CommandPath()) {
					t.Errorf("Example does not run %q:\n%s", sub.CommandPath(), sub.Example)
				}
			})
			walk(sub)
		}
	}
	walk(root)
	if seen != len(allVerbs) {
		t.Errorf("walked %d verbs, allVerbs lists %d: keep them in step", seen, len(allVerbs))
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no verb", nil, "clipstream: missing verb"},
		{"unknown verb", []string{"bogus"}, `clipstream: unknown verb "bogus"`},
		{"misspelt verb suggests", []string{"vresion"}, "did you mean version?"},
		{"unknown global flag", []string{"--bogus", "version"}, "unknown flag: --bogus"},
		{"unknown verb flag", []string{"version", "--bogus"}, "clipstream version: unknown flag: --bogus"},
		{"bad log level", []string{"--log-level", "loud", "version"}, `invalid argument "loud" for "--log-level"`},
		{"bad log format", []string{"--log-format=xml", "version"}, `invalid argument "xml" for "--log-format"`},
		{"flag without value", []string{"demo", "--out"}, "flag needs an argument: --out"},
		{"extra argument", []string{"version", "extra"}, "clipstream version: unknown command"},
		{"shards without verb", []string{"shards"}, "clipstream shards: missing verb"},
		{"unknown shards verb", []string{"shards", "bogus"}, `clipstream shards: unknown verb "bogus"`},
		{"shards cat without shard", []string{"shards", "cat"}, "accepts 1 arg(s), received 0"},
		{"bad device", []string{"train", "--device", "tpu"}, `invalid argument "tpu" for "--device"`},
		{"bad int", []string{"train", "--steps", "many"}, `invalid argument "many" for "--steps"`},
		{"bad store URL", []string{"demo", "--out", "ftp://example.com/x"}, "clipstream demo: --out:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, t.Context(), tt.args...)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr does not contain %q:\n%s", tt.want, stderr)
			}
			if !strings.Contains(stderr, "--help' for usage.") {
				t.Errorf("stderr does not point at --help:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, t.Context(), "version")
		if code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
		}
		for _, want := range []string{runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "module:"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("version output lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, t.Context(), "version", "--json")
		if code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("not valid JSON: %v\n%s", err, stdout)
		}
		want := map[string]string{"go_version": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %q", k, got[k], v)
			}
		}
		for _, k := range []string{"module", "version"} {
			if s, _ := got[k].(string); s == "" {
				t.Errorf("%s missing or empty in %s", k, stdout)
			}
		}
	})
}

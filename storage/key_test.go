package storage

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"shards/w0-000001.tar.zst", true},
		{"a/b/c", true},
		{"ünïcødé/ключ", true},
		{"with space/and-dash_under.dot", true},
		{"", false},
		{"/abs", false},
		{"trailing/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"a/../b", false},
		{"tab\tkey", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"back\\slash", false},
		{"bad\xff", false},
		{strings.Repeat("x", MaxKeyLen), true},
		{strings.Repeat("x", MaxKeyLen+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			err := CheckKey(tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v is not ErrInvalidKey", err)
			}
		})
	}
}

// FuzzCheckKey: CheckKey never panics, and a key it accepts is safe to map
// onto a file path: no escape from the root, no empty or dot segments.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a//b", "\x00", "ü", strings.Repeat("a/", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		if !utf8.ValidString(key) || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || len(key) > MaxKeyLen {
			t.Fatalf("accepted bad key %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				t.Fatalf("accepted key %q with segment %q", key, seg)
			}
		}
	})
}

func TestOpenBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://host/x", "s3://", "file://host/dir", "file://rel", "s3://user:secret@bucket/x", "s3://bucket/a//b", "%zz://x"} {
		t.Run(u, func(t *testing.T) {
			_, err := Open(context.Background(), u, Options{})
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("Open(%q) = %v, want ErrBadURL", u, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

// FuzzOpenURL: Open on any string returns a store or an error, never
// panics, and never echoes a password from the URL.
func FuzzOpenURL(f *testing.F) {
	for _, s := range []string{"file:///tmp/x", "s3://b/p", "s3://u:pw@b/p", "s3:///", "file://", "\x00://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		lower := strings.ToLower(raw)
		if strings.HasPrefix(lower, "file:") {
			return // a valid one would create directories
		}
		if !strings.HasPrefix(lower, "s3://") && strings.Contains(raw, "://") {
			// Only schemes we parse; bare paths would create directories.
			_, err := Open(context.Background(), raw, Options{})
			if err == nil {
				t.Fatalf("Open(%q) accepted an unknown scheme", raw)
			}
			return
		}
		if !strings.Contains(raw, "@") || !strings.HasPrefix(lower, "s3://") {
			return // a well-formed s3:// URL would dial
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Open(ctx, raw, Options{})
		if u, perr := url.Parse(raw); perr == nil && u.User == nil {
			return // any ":pw@" is in the path, not a credential
		}
		if err != nil && strings.Contains(raw, ":pw@") && strings.Contains(err.Error(), ":pw@") {
			t.Fatalf("error echoes the password: %v", err)
		}
	})
}

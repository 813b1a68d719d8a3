package dedup

import (
	"errors"
	"testing"
)

func TestNormalizeURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"HTTP://Example.COM/a.jpg", "http://example.com/a.jpg"},
		{"http://example.com:80/a.jpg", "http://example.com/a.jpg"},
		{"https://example.com:443/a.jpg", "https://example.com/a.jpg"},
		{"https://example.com:8443/a.jpg", "https://example.com:8443/a.jpg"},
		{"http://example.com:443/a.jpg", "http://example.com:443/a.jpg"},
		{"https://example.com/a.jpg#frag", "https://example.com/a.jpg"},
		{"https://example.com", "https://example.com/"},
		{"https://example.com./a", "https://example.com/a"},
		{"https://example.com../a", "https://example.com/a"},
		{"https://example.com/%7Euser/%41%62c.jpg", "https://example.com/~user/Abc.jpg"},
		{"https://example.com/a%2fb%3F.jpg", "https://example.com/a%2Fb%3F.jpg"},
		{"https://example.com/a b.jpg", "https://example.com/a%20b.jpg"},
		{"https://example.com/caf%C3%A9.jpg", "https://example.com/caf%C3%A9.jpg"},
		{"https://example.com/café.jpg", "https://example.com/caf%C3%A9.jpg"},
		{"https://example.com/i.jpg?w=1&H=%2a", "https://example.com/i.jpg?w=1&H=%2A"},
		{"https://example.com/i.jpg?b=2&a=1", "https://example.com/i.jpg?b=2&a=1"},
		{"https://USER@Example.com/x", "https://USER@example.com/x"},
		{"http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"},
		{"  https://example.com/x  ", "https://example.com/x"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeURL(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("NormalizeURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := NormalizeURL(got)
			if err != nil || again != got {
				t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
			}
		})
	}
}

func TestNormalizeURLErrors(t *testing.T) {
	for _, in := range []string{"", "/relative.jpg", "example.com/a.jpg", "mailto:a@b.c", "http://[::1", "http://./x", "http://../x", "https:///x"} {
		t.Run(in, func(t *testing.T) {
			if _, err := NormalizeURL(in); !errors.Is(err, ErrBadURL) {
				t.Fatalf("NormalizeURL(%q) error = %v, want ErrBadURL", in, err)
			}
		})
	}
}

func TestNormalizeCaption(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"  A  Cat\tON a\nMat ", "a cat on a mat"},
		{"Cafe\u0301", "café"}, // decomposed é composes under NFKC
		{"ﬁsh", "fish"},        // ligature folds under NFKC
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := NormalizeCaption(tc.in); got != tc.want {
				t.Fatalf("NormalizeCaption(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzNormalizeURL: never panics; the result is idempotent and absolute.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"https://example.com/a.jpg", "HTTP://X.Y:80/%7e?q#f", "http://[::1]:443/",
		"https://a/%zz%", "https://a/\x00\xff", "//host/path", "http://user:pa%20ss@h/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeURL(in)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("error %v does not wrap ErrBadURL", err)
			}
			return
		}
		again, err := NormalizeURL(out)
		if err != nil {
			t.Fatalf("NormalizeURL(%q) = %q, which fails: %v", in, out, err)
		}
		if again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

package crawl

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRobotsRules(t *testing.T) {
	tests := []struct {
		name  string
		txt   string
		token string
		allow []string
		deny  []string
		delay time.Duration // 0: none
	}{
		{
			name:  "rfc9309_example",
			token: "ExampleBot",
			txt: `User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
`,
			allow: []string{"/", "/publications/a.gif?x", "/example", "/a.gifx"},
			deny:  []string{"/a.gif", "/example/x", "/dir/b.gif"},
		},
		{
			name:  "foobot_group",
			token: "FooBot",
			txt: `User-Agent: *
Disallow: /
User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif
`,
			allow: []string{"/example/page.html", "/example/allowed.gif", "/robots.txt"},
			deny:  []string{"/", "/example/other.html"},
		},
		{
			name:  "shared_group_and_empty_group",
			token: "bazbot",
			txt:   "User-Agent: barbot\nUser-Agent: bazbot\nDisallow: /example/page.html\nUser-Agent: quxbot\n",
			allow: []string{"/example/other"},
			deny:  []string{"/example/page.html", "/example/page.html?q=1"},
		},
		{
			name:  "our_token_merged_groups_and_version_suffix",
			token: "clipstream",
			txt: `user-agent: ClipStream/1.0
disallow: /a/
user-agent: other
disallow: /
USER-AGENT: clipstream
Disallow: /b/
crawl-delay: 2.5
User-agent: *
Disallow: /c/
`,
			allow: []string{"/c/x", "/"},
			deny:  []string{"/a/x", "/b/y"},
			delay: 2500 * time.Millisecond,
		},
		{
			name:  "wildcard_only_when_no_match",
			token: "clipstream",
			txt:   "User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n",
			allow: []string{"/public"},
			deny:  []string{"/private/x"},
			delay: time.Second,
		},
		{
			name:  "longest_match_and_allow_tie",
			token: "clipstream",
			txt:   "User-agent: *\nDisallow: /folder\nAllow: /folder/\nDisallow: /folder/page\nAllow: /x\nDisallow: /x\n",
			allow: []string{"/folder/", "/folder/other", "/x/y"},
			deny:  []string{"/folder", "/folderx", "/folder/page.html"},
		},
		{
			name:  "wildcards_and_anchor",
			token: "clipstream",
			txt:   "User-agent: *\nDisallow: /*.php$\nDisallow: /fish*.jpg\nDisallow: /*/private/*/end$\nAllow: /$\n",
			allow: []string{"/", "/index.php?x=1", "/fish.png", "/a/private/b/end/more"},
			deny:  []string{"/index.php", "/x/y.php", "/fish.jpg", "/fishes/big.jpg?z", "/a/private/b/c/end"},
		},
		{
			name:  "percent_encoding",
			token: "clipstream",
			txt:   "User-agent: *\nDisallow: /%7Ejoe/\nDisallow: /foo/bar%2Fbaz\nDisallow: /ünï\n",
			allow: []string{"/foo/bar/baz"},
			deny:  []string{"/~joe/index.html", "/%7ejoe/x", "/foo/bar%2fbaz", "/%C3%BCn%C3%AF/x"},
		},
		{
			name:  "rules_before_any_group_ignored",
			token: "clipstream",
			txt:   "Disallow: /\nSitemap: https://example.com/s.xml\n# comment\nUser-agent: *\nDisallow: /x # trailing comment\n",
			allow: []string{"/", "/y"},
			deny:  []string{"/x"},
		},
		{
			name:  "cr_line_endings_bom_misspellings",
			token: "clipstream",
			txt:   "\ufeffUser-agent: *\rDissallow: /a\r\nuseragent: clipstream\nDisallow: /b\n",
			allow: []string{"/a"}, // the clipstream group wins; "*" is not merged in
			deny:  []string{"/b"},
		},
		{
			name:  "empty_disallow_allows",
			token: "clipstream",
			txt:   "User-agent: *\nDisallow:\n",
			allow: []string{"/", "/anything"},
		},
		{
			name:  "no_rules_at_all",
			token: "clipstream",
			txt:   "garbage\n\x00\xff<html>",
			allow: []string{"/", "/x"},
		},
		{
			name:  "bad_crawl_delay_ignored",
			token: "clipstream",
			txt:   "User-agent: *\nCrawl-delay: soon\nCrawl-delay: -3\nDisallow: /x\n",
			deny:  []string{"/x"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := ParseRobots([]byte(tc.txt)).Rules(tc.token)
			for _, p := range tc.allow {
				if !rules.Allowed(p) {
					t.Errorf("%s disallowed, want allowed", p)
				}
			}
			for _, p := range tc.deny {
				if rules.Allowed(p) {
					t.Errorf("%s allowed, want disallowed", p)
				}
			}
			d, ok := rules.CrawlDelay()
			if ok != (tc.delay != 0) || d != tc.delay {
				t.Errorf("crawl delay %v (%v), want %v", d, ok, tc.delay)
			}
		})
	}
}

func TestRobotsSpecialRules(t *testing.T) {
	all, none := AllowAllRules(), DisallowAllRules()
	if !all.Allowed("/x") || none.Allowed("/x") || !none.Allowed("/robots.txt") {
		t.Fatal("allow-all/disallow-all wrong")
	}
	var zero RobotsRules
	if !zero.Allowed("") {
		t.Fatal("zero rules must allow")
	}
}

func TestRobotsSizeLimit(t *testing.T) {
	// A rule past MaxRobotsBytes is ignored.
	txt := "User-agent: *\n" + strings.Repeat("# padding padding padding\n", MaxRobotsBytes/26+1) + "Disallow: /late\n"
	if r := ParseRobots([]byte(txt)).Rules("clipstream"); !r.Allowed("/late") {
		t.Fatal("rule past the size limit applied")
	}
}

func TestXRobotsTag(t *testing.T) {
	tests := []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{"noai"}, "noai"},
		{[]string{"NoImageAI"}, "noimageai"},
		{[]string{"nofollow, noindex"}, "noindex"},
		{[]string{"noimageindex"}, "noimageindex"},
		{[]string{"none"}, "none"},
		{[]string{"nofollow", "noarchive"}, ""},
		{[]string{"clipstream: noai"}, "clipstream: noai"},
		{[]string{"ClipStream: noimageai, nofollow"}, "clipstream: noimageai"},
		{[]string{"otherbot: noai"}, ""},
		{[]string{"otherbot: noai", "nofollow"}, ""},
		{[]string{"googlebot: noindex, clipstream: noai"}, "clipstream: noai"},
		{[]string{"unavailable_after: 25 Jun 2010 15:00:00 PST"}, ""},
		{[]string{"max-image-preview: large, noai"}, "noai"},
		{[]string{"*: noai"}, "noai"},
	}
	for _, tc := range tests {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add("X-Robots-Tag", v)
		}
		if got := xRobotsOptOut(h, "clipstream"); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0, true},
		{"99999999999999", 365 * 24 * time.Hour, true},
	}
	for _, tc := range tests {
		got, ok := parseRetryAfter(tc.v, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %v %v, want %v %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseRobots: any body parses without panic, rule matching terminates
// on any path, and /robots.txt is always allowed.
func FuzzParseRobots(f *testing.F) {
	f.Add([]byte("User-agent: *\nDisallow: /*.gif$\nAllow: /a*b*c\nCrawl-delay: 3\n"), "/a/x/b/y/c.gif")
	f.Add([]byte("user-agent: clipstream\ndisallow: /\n"), "/")
	f.Add([]byte("User-agent: *\r\nDisallow: /%7E%zz%\r\nAllow: ***$\n"), "/%7e")
	f.Add([]byte("\ufeffUser-agent:*\nDisallow:$\n"), "")
	f.Add([]byte("User-agent: *\nDisallow: /"+strings.Repeat("*a", 200)+"$\n"), strings.Repeat("a", 1000))
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		r := ParseRobots(body)
		for _, tok := range []string{"clipstream", "*", ""} {
			rules := r.Rules(tok)
			_ = rules.Allowed(path)
			_ = rules.Allowed("/" + path)
			if !rules.Allowed("/robots.txt") {
				t.Fatal("/robots.txt disallowed")
			}
			if d, ok := rules.CrawlDelay(); ok && d < 0 {
				t.Fatalf("negative crawl delay %v", d)
			}
		}
	})
}

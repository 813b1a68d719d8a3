package crawl

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxRobotsBytes is how much of a robots.txt is read and parsed; the rest is
// ignored (RFC 9309 §2.5 asks for at least 500 KiB).
const MaxRobotsBytes = 512 << 10

// Robots is a parsed robots.txt (RFC 9309): its groups of rules, each for a
// set of product tokens. ParseRobots never fails: lines it cannot read are
// skipped, as the RFC asks.
type Robots struct {
	groups []robotsGroup
}

type robotsGroup struct {
	agents     []string // lower-case product tokens; "*" for the wildcard
	rules      []robotsRule
	crawlDelay time.Duration
	hasDelay   bool
}

type robotsRule struct {
	allow   bool
	pattern string   // normalised (percent-encoding), as written otherwise
	parts   []string // pattern split at '*', '$' anchor removed
	anchor  bool     // pattern ended in '$'
}

// ParseRobots parses the first MaxRobotsBytes of a robots.txt body.
//
// Records are "key: value" lines, '#' starts a comment; lines end in LF, CR
// or CRLF; a UTF-8 BOM is skipped. Keys are case-insensitive: user-agent,
// allow, disallow and crawl-delay are read (with the common misspellings
// "useragent", "dissallow", "disalow", "crawldelay"); others (sitemap, host,
// ...) are ignored and do not end a group. A group is one or more
// user-agent lines followed by rules; rules before any user-agent line are
// ignored. An empty Disallow is no rule.
func ParseRobots(body []byte) *Robots {
	if len(body) > MaxRobotsBytes {
		body = body[:MaxRobotsBytes]
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	r := &Robots{}
	var cur *robotsGroup
	hadMember := false // cur has had a rule or crawl-delay: a user-agent line starts a new group
	for len(body) > 0 {
		var line []byte
		i := bytes.IndexAny(body, "\r\n")
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+1:]
		}
		if j := bytes.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(string(line[:colon])))
		val := strings.TrimSpace(string(line[colon+1:]))
		switch key {
		case "user-agent", "useragent", "user agent", "user_agent":
			if cur == nil || hadMember {
				r.groups = append(r.groups, robotsGroup{})
				cur = &r.groups[len(r.groups)-1]
				hadMember = false
			}
			if tok := productToken(val); tok != "" {
				cur.agents = append(cur.agents, tok)
			}
		case "allow", "disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw":
			if cur == nil {
				continue
			}
			hadMember = true
			if val == "" {
				continue
			}
			cur.rules = append(cur.rules, compileRobotsRule(key == "allow", val))
		case "crawl-delay", "crawldelay", "crawl delay", "crawl_delay":
			if cur == nil {
				continue
			}
			hadMember = true
			if d, ok := parseCrawlDelay(val); ok && (!cur.hasDelay || d > cur.crawlDelay) {
				cur.crawlDelay, cur.hasDelay = d, true
			}
		}
	}
	return r
}

// productToken is the lower-cased leading run of letters, '_' and '-' of a
// user-agent value ("ClipStream/1.0 (+url)" gives "clipstream"), or "*".
func productToken(v string) string {
	if strings.HasPrefix(v, "*") {
		return "*"
	}
	end := 0
	for end < len(v) {
		c := v[end]
		if c == '-' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			end++
			continue
		}
		break
	}
	return strings.ToLower(v[:end])
}

func parseCrawlDelay(v string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, false
	}
	const maxSeconds = 1e6 // about 11 days: anything above is "never"
	if f > maxSeconds {
		f = maxSeconds
	}
	return time.Duration(f * float64(time.Second)), true
}

func compileRobotsRule(allow bool, pattern string) robotsRule {
	if pattern[0] != '/' && pattern[0] != '*' {
		pattern = "/" + pattern
	}
	pattern = normalizeRobotsPath(pattern)
	// Runs of '*' are one wildcard.
	for strings.Contains(pattern, "**") {
		pattern = strings.ReplaceAll(pattern, "**", "*")
	}
	rule := robotsRule{allow: allow, pattern: pattern}
	p := pattern
	if strings.HasSuffix(p, "$") {
		rule.anchor = true
		p = p[:len(p)-1]
	}
	rule.parts = strings.Split(p, "*")
	return rule
}

// match reports whether the rule's pattern matches path (normalised). The
// pattern is literal parts separated by wildcards: the first part is a
// prefix, each middle part is found at its leftmost place after the one
// before, and with the '$' anchor the last part must end the path. Taking
// the leftmost place is optimal for '*'-only patterns, so this is exact and
// linear in the path for each part: no backtracking blow-up.
func (r *robotsRule) match(path string) bool {
	parts := r.parts
	if !strings.HasPrefix(path, parts[0]) {
		return false
	}
	if len(parts) == 1 {
		return !r.anchor || len(path) == len(parts[0])
	}
	pos := len(parts[0])
	last := len(parts) - 1
	for _, part := range parts[1:last] {
		i := strings.Index(path[pos:], part)
		if i < 0 {
			return false
		}
		pos += i + len(part)
	}
	if r.anchor {
		return len(path)-pos >= len(parts[last]) && strings.HasSuffix(path, parts[last])
	}
	return strings.Contains(path[pos:], parts[last])
}

// normalizeRobotsPath brings a path (or pattern) to the form RFC 9309 §2.2.2
// compares: percent-encoded octets of unreserved characters decoded, other
// escapes in upper case, and octets outside printable ASCII percent-encoded.
func normalizeRobotsPath(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c <= ' ' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(hexUpper[v>>4])
				b.WriteByte(hexUpper[v&15])
			}
			i += 2
		case c <= ' ' || c >= 0x7f:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// RobotsRules are the rules of a robots.txt for one product token: the
// merged groups naming the token, else the merged "*" groups, else none
// (everything allowed). The zero value allows everything.
type RobotsRules struct {
	rules       []robotsRule
	disallowAll bool
	crawlDelay  time.Duration
	hasDelay    bool
}

// AllowAllRules allows every path: what a robots.txt that is missing (4xx)
// means.
func AllowAllRules() RobotsRules { return RobotsRules{} }

// DisallowAllRules disallows every path but /robots.txt: what an
// unreachable robots.txt (5xx, 429, network error) means.
func DisallowAllRules() RobotsRules { return RobotsRules{disallowAll: true} }

// Rules returns the rules that apply to the product token (matched
// case-insensitively; RFC 9309 §2.2.1).
func (r *Robots) Rules(token string) RobotsRules {
	token = strings.ToLower(token)
	var out RobotsRules
	for _, want := range []string{token, "*"} {
		found := false
		for gi := range r.groups {
			g := &r.groups[gi]
			for _, a := range g.agents {
				if a == want {
					found = true
					out.rules = append(out.rules, g.rules...)
					if g.hasDelay && (!out.hasDelay || g.crawlDelay > out.crawlDelay) {
						out.crawlDelay, out.hasDelay = g.crawlDelay, true
					}
					break
				}
			}
		}
		if found {
			break
		}
	}
	return out
}

// Allowed reports whether the rules allow pathQuery: a URL's escaped path
// with its "?query", if any ("" means "/"). The most specific rule (the
// longest pattern, in octets) decides; between an equally long allow and
// disallow, allow wins; with no matching rule the path is allowed.
// /robots.txt itself is always allowed.
func (g *RobotsRules) Allowed(pathQuery string) bool {
	if pathQuery == "" {
		pathQuery = "/"
	}
	if pathQuery == "/robots.txt" {
		return true
	}
	if g.disallowAll {
		return false
	}
	if len(g.rules) == 0 {
		return true
	}
	p := normalizeRobotsPath(pathQuery)
	best, allowed := -1, true
	for i := range g.rules {
		r := &g.rules[i]
		n := len(r.pattern)
		if n < best || (n == best && !r.allow) {
			continue
		}
		if r.match(p) {
			best, allowed = n, r.allow
		}
	}
	return allowed
}

// CrawlDelay is the Crawl-delay of the matching groups (the largest, when
// several give one), and whether any gave one.
func (g *RobotsRules) CrawlDelay() (time.Duration, bool) { return g.crawlDelay, g.hasDelay }

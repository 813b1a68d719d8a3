package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	sharedOnce sync.Once
	sharedTok  *Tokenizer
	sharedErr  error
)

// newTestTokenizer loads the embedded vocabulary once per test binary.
func newTestTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	sharedOnce.Do(func() { sharedTok, sharedErr = New() })
	if sharedErr != nil {
		tb.Fatalf("New: %v", sharedErr)
	}
	return sharedTok
}

type goldenCaption struct {
	Kind        string  `json:"kind"`
	Text        string  `json:"text"`
	RawB64      string  `json:"raw_b64"`
	IDs         []int32 `json:"ids"`
	IDsOpenClip []int32 `json:"ids_open_clip"`
}

type goldenFile struct {
	Versions      map[string]string `json:"versions"`
	ContextLength int               `json:"context_length"`
	Captions      []goldenCaption   `json:"captions"`
}

func loadGolden(tb testing.TB) goldenFile {
	tb.Helper()
	raw, err := os.ReadFile("testdata/tokenizer_golden.json")
	if err != nil {
		tb.Fatalf("read golden: %v", err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		tb.Fatalf("parse golden: %v", err)
	}
	if g.ContextLength != ContextLength || len(g.Captions) < 500 {
		tb.Fatalf("golden file: context %d, %d captions; want %d and at least 500", g.ContextLength, len(g.Captions), ContextLength)
	}
	return g
}

// captionText returns the caption as the Go side receives it: raw bytes
// (possibly invalid UTF-8) when the golden file carries them.
func captionText(tb testing.TB, c goldenCaption) string {
	if c.RawB64 == "" {
		return c.Text
	}
	raw, err := base64.StdEncoding.DecodeString(c.RawB64)
	if err != nil {
		tb.Fatalf("raw_b64 %q: %v", c.RawB64, err)
	}
	return string(raw)
}

// TestGolden checks every id of every caption against open_clip's output
// (testdata/make_golden.py), with ftfy limited to the fixes this package
// ports. Captions where stock ftfy (mojibake repair, its HTML unescaping)
// would change the ids are listed, and must be few and of the known kinds.
func TestGolden(t *testing.T) {
	tok := newTestTokenizer(t)
	g := loadGolden(t)
	t.Logf("golden made with %v", g.Versions)
	mismatches, ftfyDiffs := 0, 0
	for i, c := range g.Captions {
		text := captionText(t, c)
		got := tok.Tokenize(text)
		want := make([]int32, ContextLength)
		copy(want, c.IDs)
		if !slices.Equal(got, want) {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("caption %d (%s) %q\ncleaned %q\n got %v\nwant %v", i, c.Kind, text, Clean(text), trimZeros(got), c.IDs)
			}
		}
		if c.IDsOpenClip != nil {
			ftfyDiffs++
			if c.Kind != "mojibake" && c.Kind != "html" {
				t.Errorf("caption %d (%s) %q: stock ftfy changes the ids of a kind the port should cover", i, c.Kind, text)
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d captions differ from open_clip", mismatches, len(g.Captions))
	}
	t.Logf("%d captions match; %d differ only under stock ftfy (mojibake repair, triple-nested entities)", len(g.Captions), ftfyDiffs)
}

func trimZeros(ids []int32) []int32 {
	end := len(ids)
	for end > 0 && ids[end-1] == 0 {
		end--
	}
	return ids[:end]
}

func TestTokenizeShape(t *testing.T) {
	tok := newTestTokenizer(t)
	tests := []struct {
		name    string
		text    string
		context int
		want    []int32
		wantErr error
	}{
		{name: "empty", text: "", context: 5, want: []int32{StartOfText, EndOfText, 0, 0, 0}},
		{name: "whitespace only", text: " \t\n ", context: 3, want: []int32{StartOfText, EndOfText, 0}},
		{name: "exact fit", text: "a photo", context: 4, want: []int32{StartOfText, 320, 1125, EndOfText}},
		{name: "truncated keeps end token", text: "a photo of a cat", context: 4, want: []int32{StartOfText, 320, 1125, EndOfText}},
		{name: "context two", text: "a photo", context: 2, want: []int32{StartOfText, EndOfText}},
		{name: "context one", text: "a", context: 1, wantErr: ErrShortContext},
		{name: "context zero", text: "a", context: 0, wantErr: ErrShortContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]int32, tt.context)
			for i := range dst {
				dst[i] = -1 // must be overwritten
			}
			err := tok.TokenizeTo(dst, tt.text)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !slices.Equal(dst, tt.want) {
				t.Fatalf("got %v, want %v", dst, tt.want)
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	tok := newTestTokenizer(t)
	tests := []struct{ text, want string }{
		{"A photo of a CAT!", "a photo of a cat ! "},
		{"東京タワー 🗼", "東京タワー 🗼 "},
		{"it's", "it 's "},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := tok.Decode(tok.Encode(tt.text)); got != tt.want {
				t.Fatalf("Decode(Encode(%q)) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"fold whitespace", "  A\tB \n\n C  ", "a b c"},
		{"html twice", "Fish &amp;amp; Chips", "fish & chips"},
		{"html not thrice", "&amp;amp;amp;", "&amp;"},
		{"unicode space", "a\u2003b\u00a0c", "a b c"},
		{"control removed before split", "a\x0bb", "ab"},
		{"final sigma", "ΟΔΟΣ ΑΣ.", "οδος ας."},
		{"dotted capital i", "İ", "i\u0307"},
		{"width and quotes", "ＡＢ　“x”", "ab \"x\""},
		{"c1 as windows-1252", "\u0093hi\u0094", "\"hi\""},
		{"nfc", "e\u0301", "\u00e9"},
		{"terminal escape", "\x1b[1;31mred\x1b[0m", "red"},
		{"invalid utf8 maximal subpart", "a\xe2\x82b\xff", "a\ufffdb\ufffd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clean(tt.in); got != tt.want {
				t.Fatalf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	tok := newTestTokenizer(t)
	g := loadGolden(t)
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(g.Captions); i += 4 {
				c := g.Captions[i]
				want := make([]int32, ContextLength)
				copy(want, c.IDs)
				if got := tok.Tokenize(captionText(t, c)); !slices.Equal(got, want) {
					errs <- c.Kind
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for k := range errs {
		t.Errorf("concurrent tokenisation mismatch on a %s caption", k)
	}
}

// FuzzTokenize: any bytes give ContextLength ids starting with the start
// token, containing the end token, all inside the vocabulary, and no panic.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", " ", "a photo of a cat", "&amp;amp;", "\xff\xe2\x82", "ΣΣ", "<start_of_text>",
		"🇯🇵", strings.Repeat("ab ", 100), "\x1b[31m", "&#x110000;"} {
		f.Add(s)
	}
	tok := newTestTokenizer(f)
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Tokenize(text)
		if len(ids) != ContextLength {
			t.Fatalf("%d ids, want %d", len(ids), ContextLength)
		}
		if ids[0] != StartOfText {
			t.Fatalf("first id %d, want %d", ids[0], StartOfText)
		}
		if !slices.Contains(ids[1:], EndOfText) {
			t.Fatalf("no end token in %v", ids)
		}
		for _, id := range ids {
			if id < 0 || id >= VocabSize {
				t.Fatalf("id %d outside the vocabulary", id)
			}
		}
	})
}

func BenchmarkTokenize(b *testing.B) {
	tok := newTestTokenizer(b)
	g := loadGolden(b)
	var texts []string
	var n int64
	for _, c := range g.Captions {
		if c.Kind == "scene" || c.Kind == "product" || c.Kind == "news" || c.Kind == "seo" {
			texts = append(texts, captionText(b, c))
			n += int64(len(texts[len(texts)-1]))
		}
	}
	dst := make([]int32, ContextLength)
	b.Run("alt-text", func(b *testing.B) {
		b.SetBytes(n / int64(len(texts)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = tok.TokenizeTo(dst, texts[i%len(texts)])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
	})
	b.Run("alt-text-parallel", func(b *testing.B) {
		b.SetBytes(n / int64(len(texts)))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]int32, ContextLength)
			i := 0
			for pb.Next() {
				_ = tok.TokenizeTo(dst, texts[i%len(texts)])
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
	})
}

// TestRuneClasses pins the regex-module behaviours preTokens reproduces.
func TestRuneClasses(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"words digits punctuation", "abc 123 !?", []string{"abc", "1", "2", "3", "!?"}},
		{"contractions first", "it's don't", []string{"it", "'s", "don", "'t"}},
		{"long s folds onto s", "it'ſ", []string{"it", "'ſ"}},
		{"punctuation run is greedy", "!'s <x", []string{"!'", "s", "<", "x"}},
		{"special tokens", "<start_of_text>a<end_of_text>", []string{"<start_of_text>", "a", "<end_of_text>"}},
		{"ypogegrammeni matches nothing", "a\u0345b \u0345!", []string{"a", "b", "!"}},
		{"newer unicode letter", "\U00031350\U00031351", []string{"\U00031350\U00031351"}},
		{"newer unicode digit", "\U00011bf0\U00011bf1", []string{"\U00011bf0", "\U00011bf1"}},
		{"combining mark is other", "a\u0301", []string{"a", "\u0301"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			preTokens(tt.in, func(tok string) bool { got = append(got, tok); return true })
			if !slices.Equal(got, tt.want) {
				t.Fatalf("preTokens(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

package crawl

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// ulRow is one row of the test lists, written in every format.
type ulRow struct {
	URL     string   `parquet:"url"`
	Caption string   `parquet:"caption"`
	Width   int64    `parquet:"width"`
	Note    *string  `parquet:"note,optional"`
	Tags    []string `parquet:"tags"`
}

func ulStrPtr(s string) *string { return &s }

// ulRows: three good rows, three bad URLs.
var ulRows = []ulRow{
	{URL: "https://a.example/1.jpg", Caption: "one", Width: 100, Note: ulStrPtr("n1"), Tags: []string{"x", "y"}},
	{URL: "not a url", Caption: "bad", Width: 1},
	{URL: "http://b.example/2.png", Caption: "two, with a comma", Width: 200},
	{URL: "", Caption: "empty", Width: 2},
	{URL: " https://d.example/dir/4.jpg?q=1&r=2 ", Caption: "quote \" and\ttab", Width: 400, Tags: []string{"z"}},
	{URL: "ftp://c.example/3.jpg", Caption: "ftp", Width: 3},
}

var ulWantURLs = []string{"https://a.example/1.jpg", "http://b.example/2.png", "https://d.example/dir/4.jpg?q=1&r=2"}
var ulWantCaptions = []string{"one", "two, with a comma", "quote \" and\ttab"}

func ulCSV(t testing.TB, rows []ulRow, comma rune) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = comma
	w.Write([]string{"url", "caption", "width"})
	for _, r := range rows {
		w.Write([]string{r.URL, r.Caption, fmt.Sprint(r.Width)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ulJSONObject(r ulRow) []byte {
	u, _ := json.Marshal(r.URL)
	c, _ := json.Marshal(r.Caption)
	return fmt.Appendf(nil, `{"url":%s,"caption":%s,"width":%d}`, u, c, r.Width)
}

func ulJSONL(rows []ulRow) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		b.Write(ulJSONObject(r))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func ulJSONArray(rows []ulRow) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.Write(ulJSONObject(r))
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

func ulTXT(rows []ulRow) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		b.WriteString(r.URL + "\r\n")
	}
	return b.Bytes()
}

func ulParquet(t testing.TB, rows []ulRow, perGroup int64) []byte {
	var b bytes.Buffer
	w := parquet.NewGenericWriter[ulRow](&b, parquet.MaxRowsPerRowGroup(perGroup))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ulGzip(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func ulCollect(t *testing.T, read func(PairFunc) (ListStats, error)) ([]Pair, ListStats) {
	t.Helper()
	var got []Pair
	st, err := read(func(p Pair) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}

func TestURLListFormats(t *testing.T) {
	dir := t.TempDir()
	type file struct {
		name     string
		data     []byte
		captions bool
		extra    []string // Extra of the good rows
		lines    []string // where the bad rows are
	}
	csvExtra := []string{`{"width":"100"}`, `{"width":"200"}`, `{"width":"400"}`}
	jsonExtra := []string{`{"width":100}`, `{"width":200}`, `{"width":400}`}
	pqExtra := []string{`{"width":100,"note":"n1","tags":["x","y"]}`, `{"width":200,"note":null,"tags":[]}`, `{"width":400,"note":null,"tags":["z"]}`}
	files := []file{
		{"list.txt", ulTXT(ulRows), false, nil, []string{":2:", ":6:"}},
		{"list.csv", ulCSV(t, ulRows, ','), true, csvExtra, []string{":3:", ":5:", ":7:"}},
		{"list.tsv", ulCSV(t, ulRows, '\t'), true, csvExtra, []string{":3:", ":5:", ":7:"}},
		{"list.jsonl", ulJSONL(ulRows), true, jsonExtra, []string{":2:", ":4:", ":6:"}},
		{"list.json", ulJSONArray(ulRows), true, jsonExtra, []string{": element 2:", ": element 4:", ": element 6:"}},
		{"list.parquet", ulParquet(t, ulRows, 4), true, pqExtra, []string{": row 2:", ": row 4:", ": row 6:"}},
	}
	for _, f := range files[:5] {
		gz := f
		gz.name += ".gz"
		gz.data = ulGzip(f.data)
		files = append(files, gz)
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			path := filepath.Join(dir, f.name)
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
			opts := ListOptions{NoCaption: !f.captions}
			got, st := ulCollect(t, func(fn PairFunc) (ListStats, error) { return ReadURLList(context.Background(), path, opts, fn) })
			if len(got) != 3 {
				t.Fatalf("%d pairs: %+v", len(got), got)
			}
			for i, p := range got {
				if p.ImageURL != ulWantURLs[i] {
					t.Errorf("pair %d: url %q", i, p.ImageURL)
				}
				wantCap := ""
				if f.captions {
					wantCap = ulWantCaptions[i]
				}
				if p.Caption != wantCap || (p.CaptionSource == FromAlt) != (wantCap != "") {
					t.Errorf("pair %d: caption %q (%s), want %q", i, p.Caption, p.CaptionSource, wantCap)
				}
				if p.Source != "list:"+path || p.PageURL != "" {
					t.Errorf("pair %d: source %q page %q", i, p.Source, p.PageURL)
				}
				var wantExtra string
				if f.extra != nil {
					wantExtra = f.extra[i]
				}
				if string(p.Extra) != wantExtra {
					t.Errorf("pair %d: extra %s, want %s", i, p.Extra, wantExtra)
				}
			}
			wantBad := int64(3)
			if f.name == "list.txt" || f.name == "list.txt.gz" {
				wantBad = 2 // the empty URL is a blank line
			}
			if st.Pairs != 3 || st.BadRows != wantBad || st.Rows != 3+wantBad {
				t.Errorf("stats %+v", st)
			}
			if len(st.BadRowMessages) != len(f.lines) {
				t.Fatalf("messages %q", st.BadRowMessages)
			}
			for i, m := range st.BadRowMessages {
				if !strings.HasPrefix(m, path+f.lines[i]) {
					t.Errorf("message %q does not name %s%s", m, path, f.lines[i])
				}
			}
		})
	}
}

func TestURLListGzipByMagic(t *testing.T) {
	// Compressed, but named without .gz; and the format given explicitly.
	data := ulGzip(ulCSV(t, ulRows, ','))
	got, _ := ulCollect(t, func(fn PairFunc) (ListStats, error) {
		return ReadURLListFrom(context.Background(), bytes.NewReader(data), "list.csv", ListOptions{}, fn)
	})
	if len(got) != 3 {
		t.Fatalf("%d pairs", len(got))
	}
	got, _ = ulCollect(t, func(fn PairFunc) (ListStats, error) {
		return ReadURLListFrom(context.Background(), bytes.NewReader(data), "stdin", ListOptions{Format: ListCSV}, fn)
	})
	if len(got) != 3 {
		t.Fatalf("%d pairs", len(got))
	}
}

func TestURLListColumns(t *testing.T) {
	laion := "SAMPLE_ID,URL,TEXT,HEIGHT,WIDTH,LICENSE\n" +
		"1,https://x.example/a.jpg,a red car,10,20,?\n" +
		"2,https://x.example/b.jpg,\"multi\nline\",30,40,cc-by\n"
	ctx := context.Background()
	read := func(opts ListOptions) ([]Pair, error) {
		var got []Pair
		_, err := ReadURLListFrom(ctx, strings.NewReader(laion), "laion.csv", opts, func(p Pair) error {
			got = append(got, p)
			return nil
		})
		return got, err
	}
	got, err := read(ListOptions{URLColumn: "URL", CaptionColumn: "TEXT"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Caption != "multi\nline" || string(got[0].Extra) != `{"SAMPLE_ID":"1","HEIGHT":"10","WIDTH":"20","LICENSE":"?"}` {
		t.Fatalf("%+v", got)
	}
	got, err = read(ListOptions{URLColumn: "URL", CaptionColumn: "TEXT", ExtraColumns: []string{"WIDTH", "HEIGHT"}})
	if err != nil || string(got[0].Extra) != `{"WIDTH":"20","HEIGHT":"10"}` {
		t.Fatalf("%v %+v", err, got)
	}
	got, err = read(ListOptions{URLColumn: "URL", CaptionColumn: "TEXT", NoExtra: true})
	if err != nil || got[0].Extra != nil {
		t.Fatalf("%v %+v", err, got)
	}
	for _, opts := range []ListOptions{
		{},                 // no "url" column
		{URLColumn: "URL"}, // no "caption" column
		{URLColumn: "URL", CaptionColumn: "TEXT", ExtraColumns: []string{"nope"}},
	} {
		if _, err := read(opts); !errors.Is(err, ErrListFormat) || !strings.Contains(err.Error(), "laion.csv") || !strings.Contains(err.Error(), "SAMPLE_ID, URL, TEXT") {
			t.Errorf("%+v: err = %v", opts, err)
		}
	}
	got, err = read(ListOptions{URLColumn: "URL", NoCaption: true, NoExtra: true})
	if err != nil || len(got) != 2 || got[0].Caption != "" {
		t.Fatalf("%v %+v", err, got)
	}

	// JSON: a missing caption is empty; numbers are text; objects are not.
	jl := `{"URL":"https://x.example/a.jpg","TEXT":null,"k":{"a":[1, 2]}}
{"URL":"https://x.example/b.jpg","TEXT":42}
{"URL":"https://x.example/c.jpg","TEXT":{"no":1}}
{"URL":"https://x.example/d.jpg"}
{"URL":5}
[1,2]
{"URL":"https://x.example/e.jpg"} trailing
`
	var pairs []Pair
	st, err := ReadURLListFrom(ctx, strings.NewReader(jl), "x.jsonl", ListOptions{URLColumn: "URL", CaptionColumn: "TEXT"}, func(p Pair) error {
		pairs = append(pairs, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 || pairs[0].Caption != "" || string(pairs[0].Extra) != `{"k":{"a":[1,2]}}` || pairs[1].Caption != "42" || pairs[2].Caption != "" {
		t.Fatalf("%+v", pairs)
	}
	if st.BadRows != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestURLListBadRows(t *testing.T) {
	ctx := context.Background()
	t.Run("field count", func(t *testing.T) {
		in := "url,caption\nhttps://a.example/1.jpg,one\nhttps://a.example/2.jpg\nhttps://a.example/3.jpg,three,extra\n\nhttps://a.example/4.jpg,four\n"
		got, st := ulCollect(t, func(fn PairFunc) (ListStats, error) {
			return ReadURLListFrom(ctx, strings.NewReader(in), "f.csv", ListOptions{}, fn)
		})
		if len(got) != 2 || st.BadRows != 2 {
			t.Fatalf("%d pairs, stats %+v", len(got), st)
		}
		want := []string{"f.csv:3: 1 fields, but the header has 2", "f.csv:4: 3 fields, but the header has 2"}
		if !reflect.DeepEqual(st.BadRowMessages, want) {
			t.Fatalf("messages %q", st.BadRowMessages)
		}
	})
	t.Run("long lines", func(t *testing.T) {
		long := "https://a.example/" + strings.Repeat("x", 5000)
		for _, name := range []string{"l.txt", "l.jsonl"} {
			in := "https://a.example/1.jpg\n" + long + "\nhttps://a.example/2.jpg\n"
			if name == "l.jsonl" {
				in = `{"url":"https://a.example/1.jpg"}` + "\n" + `{"url":"` + long + `"}` + "\n" + `{"url":"https://a.example/2.jpg"}` + "\n"
			}
			got, st := ulCollect(t, func(fn PairFunc) (ListStats, error) {
				return ReadURLListFrom(ctx, strings.NewReader(in), name, ListOptions{MaxLineBytes: 1000}, fn)
			})
			if len(got) != 2 || st.BadRows != 1 || st.BadRowMessages[0] != name+":2: line longer than 1000 bytes" {
				t.Fatalf("%s: %d pairs, stats %+v", name, len(got), st)
			}
		}
	})
	t.Run("unclosed quote", func(t *testing.T) {
		// Up to the end of a short file: one bad row.
		in := "url,caption\nhttps://a.example/1.jpg,one\nhttps://a.example/2.jpg,\"never closed\n" + strings.Repeat("more text\n", 200)
		var n int
		st, err := ReadURLListFrom(ctx, strings.NewReader(in), "q.csv", ListOptions{MaxLineBytes: 1000}, func(Pair) error { n++; return nil })
		if err != nil || n != 1 || st.BadRows != 1 || !strings.HasPrefix(st.BadRowMessages[0], "q.csv:3: record longer than 1000 bytes") {
			t.Fatalf("err = %v, %d pairs, %+v", err, n, st)
		}
		// Past the bound: where the record ends cannot be known.
		in = "url,caption\nhttps://a.example/1.jpg,one\nhttps://a.example/2.jpg,\"never closed\n" + strings.Repeat("more text\n", 5000)
		n = 0
		_, err = ReadURLListFrom(ctx, strings.NewReader(in), "q.csv", ListOptions{MaxLineBytes: 1000}, func(Pair) error { n++; return nil })
		if err == nil || !strings.Contains(err.Error(), "q.csv") || !strings.Contains(err.Error(), "line 3") || n != 1 {
			t.Fatalf("err = %v, %d pairs", err, n)
		}
	})
	t.Run("json not an array", func(t *testing.T) {
		_, err := ReadURLListFrom(ctx, strings.NewReader(`{"url":"x"}`), "o.json", ListOptions{}, func(Pair) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "o.json") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("broken parquet", func(t *testing.T) {
		good := ulParquet(t, ulRows, 4)
		for name, data := range map[string][]byte{
			"short":       good[:10],
			"no footer":   good[:len(good)-8],
			"huge footer": append(append([]byte{}, good[:len(good)-8]...), 0xff, 0xff, 0xff, 0x7f, 'P', 'A', 'R', '1'),
			"garbage":     bytes.Repeat([]byte("PAR1"), 100),
		} {
			_, err := ReadURLListFrom(ctx, bytes.NewReader(data), "b.parquet", ListOptions{}, func(Pair) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "b.parquet") {
				t.Errorf("%s: err = %v", name, err)
			}
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		if _, err := ReadURLList(ctx, "list.xlsx", ListOptions{}, func(Pair) error { return nil }); !errors.Is(err, ErrListFormat) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadURLList(ctx, filepath.Join(t.TempDir(), "nope.csv"), ListOptions{}, func(Pair) error { return nil })
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty files", func(t *testing.T) {
		for _, name := range []string{"e.txt", "e.csv", "e.tsv", "e.jsonl", "e.json"} {
			st, err := ReadURLListFrom(ctx, strings.NewReader(""), name, ListOptions{}, func(Pair) error { return nil })
			if err != nil || st.Rows != 0 {
				t.Errorf("%s: %v %+v", name, err, st)
			}
		}
	})
}

func TestURLListFromStorage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.parquet"), ulParquet(t, ulRows, 2), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "l.jsonl.gz"), ulGzip(ulJSONL(ulRows)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"l.parquet", "l.jsonl.gz"} {
		loc := "file://" + filepath.ToSlash(dir) + "/" + name
		got, st := ulCollect(t, func(fn PairFunc) (ListStats, error) { return ReadURLList(context.Background(), loc, ListOptions{}, fn) })
		if len(got) != 3 || st.BadRows != 3 || got[0].Source != "list:"+loc {
			t.Fatalf("%s: %d pairs, stats %+v", name, len(got), st)
		}
	}
}

// TestURLListPartitions checks that N partitions of every format are
// disjoint and together give the whole list.
func TestURLListPartitions(t *testing.T) {
	var rows []ulRow
	for i := 0; i < 500; i++ {
		rows = append(rows, ulRow{URL: fmt.Sprintf("https://h%d.example/img/%d.jpg", i%37, i), Caption: fmt.Sprint("c", i), Width: int64(i)})
	}
	inputs := map[string][]byte{
		"p.csv":     ulCSV(t, rows, ','),
		"p.jsonl":   ulJSONL(rows),
		"p.txt":     ulTXT(rows),
		"p.parquet": ulParquet(t, rows, 64),
	}
	for name, data := range inputs {
		for _, n := range []int{1, 2, 5} {
			seen := map[string]int{}
			for i := 0; i < n; i++ {
				part := Partition{Index: i, Count: n}
				got, st := ulCollect(t, func(fn PairFunc) (ListStats, error) {
					return ReadURLListFrom(context.Background(), bytes.NewReader(data), name, ListOptions{Partition: part, NoCaption: name == "p.txt"}, fn)
				})
				if st.Pairs+st.OutOfPartition != int64(len(rows)) {
					t.Errorf("%s %v: %d + %d rows", name, part, st.Pairs, st.OutOfPartition)
				}
				if n > 1 && (len(got) == 0 || len(got) == len(rows)) {
					t.Errorf("%s %v: an uneven split: %d of %d", name, part, len(got), len(rows))
				}
				for _, p := range got {
					seen[p.ImageURL]++
				}
			}
			for _, r := range rows {
				if seen[r.URL] != 1 {
					t.Fatalf("%s, %d parts: %s taken %d times", name, n, r.URL, seen[r.URL])
				}
			}
		}
	}
}

func TestURLListStops(t *testing.T) {
	stop := errors.New("enough")
	data := ulParquet(t, ulRows, 2)
	for name, in := range map[string][]byte{"s.csv": ulCSV(t, ulRows, ','), "s.parquet": data, "s.json": ulJSONArray(ulRows)} {
		n := 0
		_, err := ReadURLListFrom(context.Background(), bytes.NewReader(in), name, ListOptions{}, func(Pair) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if err != stop || n != 2 {
			t.Errorf("%s: err = %v after %d", name, err, n)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadURLListFrom(ctx, bytes.NewReader(data), "c.parquet", ListOptions{}, func(Pair) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("parquet: err = %v", err)
	}
	if _, err := ReadURLListFrom(ctx, strings.NewReader("https://a.example/x\n"), "c.txt", ListOptions{}, func(Pair) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("txt: err = %v", err)
	}
}

func TestPartition(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Partition
		ok   bool
	}{
		{"", Partition{}, true},
		{"0/1", Partition{0, 1}, true},
		{"3/8", Partition{3, 8}, true},
		{" 2 / 3 ", Partition{2, 3}, true},
		{"8/8", Partition{}, false},
		{"-1/4", Partition{}, false},
		{"1/0", Partition{}, false},
		{"1", Partition{}, false},
		{"a/b", Partition{}, false},
	} {
		p, err := ParsePartition(tt.in)
		if (err == nil) != tt.ok || (tt.ok && p != tt.want) {
			t.Errorf("ParsePartition(%q) = %v, %v", tt.in, p, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadPartition) {
			t.Errorf("ParsePartition(%q): err %v is not ErrBadPartition", tt.in, err)
		}
	}
	if s := (Partition{3, 8}).String(); s != "3/8" {
		t.Errorf("String = %q", s)
	}
	// Normalised forms of one URL share a part; the split is even.
	for _, n := range []int{2, 7, 64} {
		a := PartOfImageURL("HTTP://Example.COM:80/a%7Eb.jpg#frag", n)
		b := PartOfImageURL("http://example.com/a~b.jpg", n)
		if a != b {
			t.Errorf("n=%d: equivalent URLs in parts %d and %d", n, a, b)
		}
		counts := make([]int, n)
		const m = 20000
		for i := 0; i < m; i++ {
			counts[PartOfImageURL(fmt.Sprintf("https://x.example/%d.jpg", i), n)]++
			if p := PartOfHost(fmt.Sprintf("h%d.example", i), n); p < 0 || p >= n {
				t.Fatalf("host part %d of %d", p, n)
			}
		}
		for i, c := range counts {
			if exp := m / n; c < exp*7/10 || c > exp*13/10 {
				t.Errorf("n=%d: part %d has %d of %d", n, i, c, m)
			}
		}
	}
	// Values are fixed: changing them would reshuffle running crawls.
	if got := []int{PartOfImageURL("https://example.com/a.jpg", 16), PartOfHost("example.com", 16)}; !reflect.DeepEqual(got, ulPinnedParts) {
		t.Errorf("pinned parts changed: %v", got)
	}
}

// ulPinnedParts are the parts of two keys, fixed so that a change to the
// partition function is noticed.
var ulPinnedParts = []int{2, 10}

func ulFuzz(f *testing.F, name string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int64
		st, _ := ReadURLListFrom(context.Background(), bytes.NewReader(data), name, ListOptions{MaxLineBytes: 4096, NoCaption: name == "f.txt"}, func(p Pair) error {
			n++
			if !ulIsHTTPURL(p.ImageURL) {
				t.Fatalf("non-http URL %q", p.ImageURL)
			}
			if p.Extra != nil && !json.Valid(p.Extra) {
				t.Fatalf("invalid Extra %q", p.Extra)
			}
			return nil
		})
		if st.Pairs != n {
			t.Fatalf("stats say %d pairs, %d yielded", st.Pairs, n)
		}
		if st.Rows != st.Pairs+st.BadRows+st.OutOfPartition {
			t.Fatalf("rows do not add up: %+v", st)
		}
	})
}

func FuzzURLListTXT(f *testing.F) {
	ulFuzz(f, "f.txt", ulTXT(ulRows), ulGzip(ulTXT(ulRows)), []byte("\xef\xbb\xbfhttps://a.example/\n\r\n \n"))
}

func FuzzURLListCSV(f *testing.F) {
	ulFuzz(f, "f.csv", ulCSV(f, ulRows, ','), ulGzip(ulCSV(f, ulRows, ',')), []byte("url,caption,x\n\"https://a.example/\",\"a\"\"b\",\"c\nd\"\n"))
}

func FuzzURLListTSV(f *testing.F) {
	ulFuzz(f, "f.tsv", ulCSV(f, ulRows, '\t'), []byte("url\tcaption\nhttps://a.example/\t\"x\n"))
}

func FuzzURLListJSONL(f *testing.F) {
	ulFuzz(f, "f.jsonl", ulJSONL(ulRows), ulGzip(ulJSONL(ulRows)), []byte(`{"url":"https://a.example/","caption":1e400,"x":[{"y":null}]}`+"\n"))
}

func FuzzURLListJSON(f *testing.F) {
	ulFuzz(f, "f.json", ulJSONArray(ulRows), []byte(`[{"url":"https://a.example/"},{"url":1},[],{"url":"https://b.example/","caption":true}]`))
}

func FuzzURLListParquet(f *testing.F) {
	ulFuzz(f, "f.parquet", ulParquet(f, ulRows, 2), ulParquet(f, ulRows[:1], 1))
}

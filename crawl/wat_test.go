package crawl

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var watUpdate = flag.Bool("update-wat", false, "rewrite testdata/CC-sample.warc.wat.gz from watFixtureRecords")

const watFixturePath = "testdata/CC-sample.warc.wat.gz"

// watRecord is one WARC record of the fixture.
type watRecord struct {
	headers [][2]string
	body    string
}

// bytes renders the record as WARC/1.0 with CRLF line ends.
func (r watRecord) bytes() []byte {
	var b bytes.Buffer
	b.WriteString("WARC/1.0\r\n")
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(r.body))
	b.WriteString(r.body)
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

func watMeta(id int, target, body string) watRecord {
	return watRecord{
		headers: [][2]string{
			{"WARC-Type", "metadata"},
			{"WARC-Target-URI", target},
			{"WARC-Date", "2024-02-20T12:00:0" + fmt.Sprint(id) + "Z"},
			{"WARC-Record-ID", fmt.Sprintf("<urn:uuid:6c2b6a3e-0000-4000-8000-00000000000%d>", id)},
			{"WARC-Refers-To", fmt.Sprintf("<urn:uuid:0d0a2f1c-0000-4000-8000-00000000000%d>", id)},
			{"Content-Type", "application/json"},
		},
		body: body,
	}
}

// watEnvelopeJSON builds a WAT JSON envelope the way Common Crawl lays it
// out; payload is the Payload-Metadata object.
func watEnvelopeJSON(warcType, target, payload string) string {
	return `{"Container":{"Filename":"CC-MAIN-20240220120000-20240220150000-00042.warc.gz","Compressed":true,"Offset":"31337",` +
		`"Gzip-Metadata":{"Deflate-Length":"4242","Header-Length":"10","Footer-Length":"8","Inflated-CRC":"-123456","Inflated-Length":"9000"}},` +
		`"Envelope":{"Format":"WARC","WARC-Header-Length":"512","Actual-Content-Length":"8500","Block-Digest":"sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH",` +
		`"WARC-Header-Metadata":{"WARC-Type":"` + warcType + `","WARC-Date":"2024-02-20T12:00:00Z","WARC-Record-ID":"<urn:uuid:0d0a2f1c-0000-4000-8000-000000000001>",` +
		`"Content-Length":"8500","Content-Type":"application/http; msgtype=` + warcType + `","WARC-IP-Address":"93.184.215.14","WARC-Target-URI":"` + target + `",` +
		`"WARC-Identified-Payload-Type":"text/html"},"Payload-Metadata":` + payload + `}}`
}

func watHTMLPayload(head, links string) string {
	return `{"Actual-Content-Type":"application/http; msgtype=response","HTTP-Response-Metadata":{"Response-Message":{"Version":"HTTP/1.1","Status":"200","Reason":"OK"},` +
		`"Headers":{"Content-Type":"text/html; charset=UTF-8","Server":"nginx"},"Headers-Length":"301","Entity-Length":"8199","Entity-Trailing-Slop-Length":"0",` +
		`"HTML-Metadata":{"Head":` + head + `,"Links":[` + links + `]}}}`
}

// watFixtureRecords is the content of testdata/CC-sample.warc.wat.gz.
func watFixtureRecords() []watRecord {
	const p1 = "https://www.example.com/blog/post-1.html"
	const p2 = "http://news.example.org/world/story.html"
	const p3 = "https://www.example.com/img/banner.jpg"
	const p4 = "https://www.example.com/fr/animaux"
	return []watRecord{
		{
			headers: [][2]string{
				{"WARC-Type", "warcinfo"},
				{"WARC-Date", "2024-02-20T12:00:00Z"},
				{"WARC-Filename", "CC-MAIN-20240220120000-20240220150000-00042.warc.wat.gz"},
				{"WARC-Record-ID", "<urn:uuid:ffffffff-0000-4000-8000-000000000000>"},
				{"Content-Type", "application/warc-fields"},
			},
			body: "Software-Info: ia-web-commons.1.1.10-SNAPSHOT-20240101\r\nExtractedDate: Tue, 20 Feb 2024 12:00:00 GMT\r\nip: 10.0.0.1\r\nhostname: ip-10-0-0-1.ec2.internal\r\nformat: WARC File Format 1.0\r\n",
		},
		watMeta(1, p1, watEnvelopeJSON("request", p1,
			`{"Actual-Content-Type":"application/http; msgtype=request","HTTP-Request-Metadata":{"Request-Message":{"Method":"GET","Path":"/blog/post-1.html","Version":"HTTP/1.1"},"Headers":{"Host":"www.example.com","User-Agent":"CCBot/2.0"}}}`)),
		watMeta(2, p1, watEnvelopeJSON("response", p1, watHTMLPayload(
			`{"Title":"A day with the animals","Metas":[{"name":"viewport","content":"width=device-width"}],"Link":[{"path":"LINK@/href","url":"/style.css","rel":"stylesheet"}]}`,
			`{"path":"A@/href","url":"/about","text":"About us"},`+
				`{"path":"IMG@/src","url":"/img/cat.jpg","alt":"A grey cat asleep on a sofa"},`+
				`{"path":"IMG@/src","url":"photos/dog.png","alt":"Dog"},`+
				`{"path":"IMG@/src","url":"https://cdn.example.net/x.webp"},`+
				`{"path":"IMG@/src","url":"/spacer.gif","alt":"  "},`+
				`{"path":"IMG@/src","url":"data:image/png;base64,iVBORw0KGgo=","alt":"inline"},`+
				`{"path":"IMG@/src","url":"javascript:void(0)","alt":"js"},`+
				`{"path":"IMG@/src","url":"//cdn.example.net/y.jpg#zoom","alt":"Protocol-relative"},`+
				`{"path":"IMG@/data-src","url":"/lazy.jpg","alt":"not a src"},`+
				`{"path":"A@/href","url":"https://twitter.com/example","text":"Follow"}`))),
		watMeta(3, p2, watEnvelopeJSON("response", p2, watHTMLPayload(
			`{"Title":"World news","Base":"https://static.example.org/assets/"}`,
			`{"path":"IMG@/src","url":"pic.jpg","alt":"Resolved against the base"},`+
				`{"path":"IMG@/src","url":"/abs.jpg","alt":"Root relative"}`))),
		watMeta(4, p3, watEnvelopeJSON("response", p3,
			`{"Actual-Content-Type":"application/http; msgtype=response","HTTP-Response-Metadata":{"Response-Message":{"Version":"HTTP/1.1","Status":"200","Reason":"OK"},"Headers":{"Content-Type":"image/jpeg"},"Entity-Length":"51234"}}`)),
		watMeta(5, "https://broken.example/", `{"Container":{"Filename":"x"},"Envelope":{"Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":[{"path":"IMG@/src","url":"/a.jpg","alt":"cut`),
		watMeta(6, p4, watEnvelopeJSON("response", p4, watHTMLPayload(
			`{"Title":"Les animaux"}`,
			`{"path":"IMG@/src","url":"/images/mon éléphant.jpg","alt":"Éléphant d'Afrique — 象"}`))),
	}
}

func watPlain(recs []watRecord) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(r.bytes())
	}
	return b.Bytes()
}

// watGzipPerRecord compresses each record as its own gzip member, as
// Common Crawl does.
func watGzipPerRecord(t testing.TB, recs []watRecord) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(r.bytes()); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

var watWantPairs = []Pair{
	{ImageURL: "https://www.example.com/img/cat.jpg", PageURL: "https://www.example.com/blog/post-1.html", Caption: "A grey cat asleep on a sofa", CaptionSource: FromAlt},
	{ImageURL: "https://www.example.com/blog/photos/dog.png", PageURL: "https://www.example.com/blog/post-1.html", Caption: "Dog", CaptionSource: FromAlt},
	{ImageURL: "https://cdn.example.net/y.jpg", PageURL: "https://www.example.com/blog/post-1.html", Caption: "Protocol-relative", CaptionSource: FromAlt},
	{ImageURL: "https://static.example.org/assets/pic.jpg", PageURL: "http://news.example.org/world/story.html", Caption: "Resolved against the base", CaptionSource: FromAlt},
	{ImageURL: "https://static.example.org/abs.jpg", PageURL: "http://news.example.org/world/story.html", Caption: "Root relative", CaptionSource: FromAlt},
	{ImageURL: "https://www.example.com/images/mon%20%C3%A9l%C3%A9phant.jpg", PageURL: "https://www.example.com/fr/animaux", Caption: "Éléphant d'Afrique — 象", CaptionSource: FromAlt},
}

var watWantStats = WATStats{Records: 7, Metadata: 6, HTMLPages: 3, ImageLinks: 10, Pairs: 6, NoAlt: 2, BadURL: 2, BadRecords: 1}

func watCollect(t *testing.T, read func(PairFunc) (WATStats, error)) ([]Pair, WATStats) {
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

func watCheck(t *testing.T, got []Pair, st WATStats, source string) {
	t.Helper()
	want := make([]Pair, len(watWantPairs))
	for i, p := range watWantPairs {
		p.Source = source
		want[i] = p
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pairs:\n got %+v\nwant %+v", got, want)
	}
	if len(st.BadRecordMessages) != 1 || !strings.Contains(st.BadRecordMessages[0], "JSON") {
		t.Errorf("bad record messages %q", st.BadRecordMessages)
	}
	st.BadRecordMessages = nil
	if !reflect.DeepEqual(st, watWantStats) {
		t.Errorf("stats\n got %+v\nwant %+v", st, watWantStats)
	}
}

func TestWATFixture(t *testing.T) {
	recs := watFixtureRecords()
	if *watUpdate {
		if err := os.WriteFile(watFixturePath, watGzipPerRecord(t, recs), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The committed file is what watFixtureRecords describes.
	f, err := os.Open(watFixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, watPlain(recs)) {
		t.Fatalf("%s is stale: run go test ./crawl -run TestWATFixture -update-wat", watFixturePath)
	}

	got, st := watCollect(t, func(fn PairFunc) (WATStats, error) {
		return ReadWAT(context.Background(), watFixturePath, WATOptions{}, fn)
	})
	watCheck(t, got, st, "wat:"+watFixturePath)
}

func TestWATCompressionVariants(t *testing.T) {
	recs := watFixtureRecords()
	var whole bytes.Buffer
	zw := gzip.NewWriter(&whole)
	zw.Write(watPlain(recs))
	zw.Close()
	for name, data := range map[string][]byte{
		"plain":            watPlain(recs),
		"gzip per record":  watGzipPerRecord(t, recs),
		"gzip, one member": whole.Bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			got, st := watCollect(t, func(fn PairFunc) (WATStats, error) {
				return ReadWATFrom(context.Background(), bytes.NewReader(data), "x.wat", WATOptions{}, fn)
			})
			watCheck(t, got, st, "wat:x.wat")
		})
	}
}

func TestWATFromStorage(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(watFixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seg.warc.wat.gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	loc := "file://" + filepath.ToSlash(dir) + "/seg.warc.wat.gz"
	got, st := watCollect(t, func(fn PairFunc) (WATStats, error) {
		return ReadWAT(context.Background(), loc, WATOptions{}, fn)
	})
	watCheck(t, got, st, "wat:"+loc)

	_, err = ReadWAT(context.Background(), "file://"+filepath.ToSlash(dir)+"/missing.wat.gz", WATOptions{}, func(Pair) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing.wat.gz") {
		t.Fatalf("missing object: err = %v", err)
	}
}

func TestWATKeepEmptyAlt(t *testing.T) {
	got, st := watCollect(t, func(fn PairFunc) (WATStats, error) {
		return ReadWAT(context.Background(), watFixturePath, WATOptions{KeepEmptyAlt: true}, fn)
	})
	if st.Pairs != 8 || st.NoAlt != 0 || len(got) != 8 {
		t.Fatalf("pairs %d, no-alt %d", st.Pairs, st.NoAlt)
	}
	for _, p := range got {
		if (p.Caption == "") != (p.CaptionSource == "") {
			t.Errorf("%+v: caption source does not match caption", p)
		}
	}
}

func TestWATPartitions(t *testing.T) {
	const n = 3
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		got, st := watCollect(t, func(fn PairFunc) (WATStats, error) {
			return ReadWAT(context.Background(), watFixturePath, WATOptions{Partition: Partition{i, n}}, fn)
		})
		if st.Pairs+st.OutOfPartition != int64(len(watWantPairs)) {
			t.Errorf("part %d: %d pairs + %d elsewhere", i, st.Pairs, st.OutOfPartition)
		}
		for _, p := range got {
			seen[p.ImageURL]++
			if PartOfImageURL(p.ImageURL, n) != i {
				t.Errorf("part %d yielded %s", i, p.ImageURL)
			}
		}
	}
	for _, p := range watWantPairs {
		if seen[p.ImageURL] != 1 {
			t.Errorf("%s yielded %d times over the parts", p.ImageURL, seen[p.ImageURL])
		}
	}
}

func TestWATDamaged(t *testing.T) {
	full := watGzipPerRecord(t, watFixtureRecords())
	t.Run("truncated", func(t *testing.T) {
		var got []Pair
		_, err := ReadWATFrom(context.Background(), bytes.NewReader(full[:len(full)-40]), "cut.wat.gz", WATOptions{}, func(p Pair) error {
			got = append(got, p)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "cut.wat.gz") {
			t.Fatalf("err = %v, want an error naming the file", err)
		}
		if len(got) != 5 {
			t.Fatalf("%d pairs before the damage, want 5", len(got))
		}
	})
	t.Run("not WARC", func(t *testing.T) {
		_, err := ReadWATFrom(context.Background(), strings.NewReader("<html>hello</html>"), "page.html", WATOptions{}, func(Pair) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "page.html") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		st, err := ReadWATFrom(context.Background(), strings.NewReader(""), "empty", WATOptions{}, func(Pair) error { return nil })
		if err != nil || st.Records != 0 {
			t.Fatalf("err = %v, stats %+v", err, st)
		}
	})
	t.Run("record too large", func(t *testing.T) {
		st, err := ReadWATFrom(context.Background(), bytes.NewReader(full), "x", WATOptions{MaxRecordBytes: 100}, func(Pair) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if st.Pairs != 0 || st.BadRecords != 6 || !strings.Contains(st.BadRecordMessages[0], "over 100 bytes") {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestWATStops(t *testing.T) {
	stop := errors.New("enough")
	n := 0
	_, err := ReadWAT(context.Background(), watFixturePath, WATOptions{}, func(Pair) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("err = %v after %d pairs", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadWAT(ctx, watFixturePath, WATOptions{}, func(Pair) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func FuzzReadWAT(f *testing.F) {
	recs := watFixtureRecords()
	f.Add(watPlain(recs))
	f.Add(watPlain(recs[:3]))
	f.Add(watGzipPerRecord(f, recs[2:4]))
	f.Add(recs[2].bytes()[:300])
	f.Add([]byte("WARC/1.0\r\nWARC-Type: metadata\r\nContent-Length: 99999999\r\n\r\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int64
		st, _ := ReadWATFrom(context.Background(), bytes.NewReader(data), "fuzz", WATOptions{MaxRecordBytes: 1 << 20}, func(p Pair) error {
			n++
			if !strings.HasPrefix(p.ImageURL, "http://") && !strings.HasPrefix(p.ImageURL, "https://") {
				t.Fatalf("non-http image URL %q", p.ImageURL)
			}
			if strings.TrimSpace(p.Caption) == "" || len(p.Caption) > MaxCaptionBytes {
				t.Fatalf("caption %q", p.Caption)
			}
			return nil
		})
		if st.Pairs != n {
			t.Fatalf("stats say %d pairs, %d yielded", st.Pairs, n)
		}
	})
}

package crawl

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// readTXT reads one URL per line; blank lines are skipped.
func (s *ulState) readTXT(r io.Reader) error {
	lr := newULLineReader(r, s.opts.MaxLineBytes)
	for {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.finish(err)
		}
		where := strconv.FormatInt(lr.line, 10)
		if tooLong {
			s.stats.Rows++
			s.bad(where, "line longer than %d bytes", s.opts.MaxLineBytes)
			continue
		}
		if lr.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		text := strings.TrimSpace(string(line))
		if text == "" {
			continue
		}
		if err := s.row(where, text, "", nil); err != nil {
			return s.finish(err)
		}
	}
}

// ulColumns are the positions of the columns a list is read for.
type ulColumns struct {
	url, caption int   // -1 when absent
	extra        []int // in header order
}

// ulPickColumns finds the URL, caption and extra columns in a header.
func (s *ulState) ulPickColumns(header []string) (ulColumns, error) {
	c := ulColumns{url: -1, caption: -1}
	for i, h := range header {
		switch {
		case h == s.opts.URLColumn && c.url < 0:
			c.url = i
		case !s.opts.NoCaption && h == s.opts.CaptionColumn && c.caption < 0:
			c.caption = i
		}
	}
	cols := strings.Join(header, ", ")
	if len(cols) > 300 {
		cols = cols[:300] + "…"
	}
	if c.url < 0 {
		return c, fmt.Errorf("%w: %s has no URL column %q (columns: %s)", ErrListFormat, s.name, s.opts.URLColumn, cols)
	}
	if !s.opts.NoCaption && c.caption < 0 {
		return c, fmt.Errorf("%w: %s has no caption column %q (columns: %s); name it, or read no caption", ErrListFormat, s.name, s.opts.CaptionColumn, cols)
	}
	if s.opts.NoExtra {
		return c, nil
	}
	if s.opts.ExtraColumns == nil {
		for i := range header {
			if i != c.url && i != c.caption && slices.Index(header, header[i]) == i {
				c.extra = append(c.extra, i)
			}
		}
		return c, nil
	}
	for _, name := range s.opts.ExtraColumns {
		i := slices.Index(header, name)
		if i < 0 {
			return c, fmt.Errorf("%w: %s has no extra column %q (columns: %s)", ErrListFormat, s.name, name, cols)
		}
		c.extra = append(c.extra, i)
	}
	return c, nil
}

// wantExtra reports whether a JSON key goes into Pair.Extra.
func (s *ulState) wantExtra(key string) bool {
	if s.opts.NoExtra {
		return false
	}
	if s.opts.ExtraColumns == nil {
		return key != s.opts.URLColumn && (s.opts.NoCaption || key != s.opts.CaptionColumn)
	}
	return slices.Contains(s.opts.ExtraColumns, key)
}

// ulObject builds a JSON object, key by key.
type ulObject struct {
	buf bytes.Buffer
	n   int
}

func (o *ulObject) reset() { o.buf.Reset(); o.n = 0 }

// add appends key with a raw JSON value (compacted).
func (o *ulObject) add(key string, raw []byte) {
	if o.n == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	o.n++
	k, _ := json.Marshal(key)
	o.buf.Write(k)
	o.buf.WriteByte(':')
	if err := json.Compact(&o.buf, raw); err != nil {
		o.buf.WriteString("null")
	}
}

func (o *ulObject) addString(key, val string) {
	v, _ := json.Marshal(val)
	o.add(key, v)
}

// bytes returns the object, or nil if it has no key.
func (o *ulObject) bytes() []byte {
	if o.n == 0 {
		return nil
	}
	o.buf.WriteByte('}')
	o.n = -1 << 30 // no further adds
	return o.buf.Bytes()
}

// readCSV reads a csv or tsv list with a header row.
func (s *ulState) readCSV(r io.Reader, comma rune) error {
	lim := &ulLimitReader{r: r, max: int64(s.opts.MaxLineBytes)}
	cr := csv.NewReader(lim)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil // an empty file holds no rows
	}
	if err != nil {
		return s.finish(s.csvErr(1, err))
	}
	header = slices.Clone(header)
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	cols, err := s.ulPickColumns(header)
	if err != nil {
		return err
	}
	var obj ulObject
	lastLine, _ := cr.FieldPos(0)
	for {
		lim.reset()
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(err, errULRecordTooLong) {
			s.stats.Rows++
			s.bad(strconv.Itoa(pe.StartLine), "%v", pe.Err)
			continue
		}
		if err != nil {
			return s.finish(s.csvErr(lastLine+1, err))
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		where := strconv.Itoa(line)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && len(header) > 1 {
			continue // a blank line
		}
		size := 0
		for _, f := range rec {
			size += len(f)
		}
		if size > s.opts.MaxLineBytes {
			s.stats.Rows++
			s.bad(where, "record longer than %d bytes (an unclosed quote?)", s.opts.MaxLineBytes)
			continue
		}
		if len(rec) != len(header) {
			s.stats.Rows++
			s.bad(where, "%d fields, but the header has %d", len(rec), len(header))
			continue
		}
		caption := ""
		if cols.caption >= 0 {
			caption = rec[cols.caption]
		}
		obj.reset()
		for _, i := range cols.extra {
			obj.addString(header[i], rec[i])
		}
		if err := s.row(where, rec[cols.url], caption, obj.bytes()); err != nil {
			return s.finish(err)
		}
	}
}

// csvErr describes an error that ends a csv list; line is where the
// record being read started, as far as is known.
func (s *ulState) csvErr(line int, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line = pe.StartLine
	}
	if errors.Is(err, errULRecordTooLong) {
		return fmt.Errorf("record near line %d is longer than %d bytes (an unclosed quote?): %w", line, s.opts.MaxLineBytes, err)
	}
	return fmt.Errorf("line %d: %w", line, err)
}

// readJSONL reads one JSON object per line; blank lines are skipped.
func (s *ulState) readJSONL(r io.Reader) error {
	lr := newULLineReader(r, s.opts.MaxLineBytes)
	var obj ulObject
	for {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.finish(err)
		}
		where := strconv.FormatInt(lr.line, 10)
		if tooLong {
			s.stats.Rows++
			s.bad(where, "line longer than %d bytes", s.opts.MaxLineBytes)
			continue
		}
		if lr.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := s.jsonRow(where, line, &obj); err != nil {
			return s.finish(err)
		}
	}
}

// readJSON reads a JSON array of objects, one element at a time.
func (s *ulState) readJSON(r io.Reader) error {
	lim := &ulLimitReader{r: r, max: int64(s.opts.MaxLineBytes)}
	dec := json.NewDecoder(lim)
	tok, err := dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return s.finish(fmt.Errorf("not a JSON array: %w", err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return s.finish(fmt.Errorf("not a JSON array of objects (starts with %v)", tok))
	}
	var obj ulObject
	for n := 1; dec.More(); n++ {
		lim.reset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, errULRecordTooLong) {
				err = fmt.Errorf("element longer than %d bytes: %w", s.opts.MaxLineBytes, err)
			}
			return s.finish(fmt.Errorf("element %d: %w", n, err))
		}
		if err := s.jsonRow(" element "+strconv.Itoa(n), raw, &obj); err != nil {
			return s.finish(err)
		}
	}
	lim.reset()
	if _, err := dec.Token(); err != nil {
		return s.finish(fmt.Errorf("end of the JSON array: %w", err))
	}
	return nil
}

// jsonRow handles one JSON object.
func (s *ulState) jsonRow(where string, line []byte, obj *ulObject) error {
	keys, vals, err := ulParseObject(line)
	if err != nil {
		s.stats.Rows++
		s.bad(where, "%v", err)
		return nil
	}
	var rawURL, caption []byte
	obj.reset()
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		switch {
		case k == s.opts.URLColumn:
			rawURL = vals[i]
		case !s.opts.NoCaption && k == s.opts.CaptionColumn:
			caption = vals[i]
		}
		if s.wantExtra(k) && !seen[k] {
			seen[k] = true
			obj.add(k, vals[i])
		}
	}
	if rawURL == nil {
		s.stats.Rows++
		s.bad(where, "no %q key", s.opts.URLColumn)
		return nil
	}
	var u string
	if err := json.Unmarshal(rawURL, &u); err != nil {
		s.stats.Rows++
		s.bad(where, "%q is not a string", s.opts.URLColumn)
		return nil
	}
	c, ok := ulJSONText(caption)
	if !ok {
		s.stats.Rows++
		s.bad(where, "%q is not a string", s.opts.CaptionColumn)
		return nil
	}
	return s.row(where, u, c, obj.bytes())
}

// ulJSONText reads a caption value: a string as is, a number or boolean as
// written, null or absent as "". Objects and arrays are not text.
func ulJSONText(raw []byte) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case '{', '[':
		return "", false
	}
	return string(raw), true
}

// ulParseObject parses one JSON object into its keys and raw values, in
// order.
func ulParseObject(b []byte) (keys []string, vals []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("malformed JSON: %w", err)
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("malformed JSON: key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("malformed JSON: %w", err)
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("malformed JSON: data after the object")
	}
	return keys, vals, nil
}

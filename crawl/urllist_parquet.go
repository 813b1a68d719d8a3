package crawl

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Bounds on what a parquet file's metadata may claim before it is read, so
// that a corrupt or hostile file cannot make the reader allocate without
// bound.
const (
	ulParquetMaxFooter      = 64 << 20  // the footer (schema and row-group metadata)
	ulParquetMaxColumnChunk = 512 << 20 // one column chunk of one row group, uncompressed
	ulParquetBatch          = 256       // rows read at a time
)

// readParquetList reads a parquet list: row groups in order, ulParquetBatch
// rows at a time. The URL and caption columns must be top-level columns;
// extra columns may be nested ("a.b" in Pair.Extra) or repeated (a JSON
// array).
func readParquetList(ctx context.Context, r io.ReaderAt, size int64, remote bool, name string, opts ListOptions, fn PairFunc) (stats ListStats, err error) {
	opts = opts.withDefaults()
	if err := opts.Partition.Validate(); err != nil {
		return ListStats{}, err
	}
	s := &ulState{ctx: ctx, name: name, opts: opts, fn: fn}
	defer func() {
		// parquet-go may panic on a corrupt file; a bad input must not
		// crash the process.
		if rec := recover(); rec != nil {
			stats = s.stats
			err = fmt.Errorf("crawl: read %s: malformed parquet file: %v", name, rec)
		}
	}()
	err = s.readParquet(r, size, remote)
	return s.stats, err
}

func (s *ulState) readParquet(r io.ReaderAt, size int64, remote bool) error {
	if err := ulCheckParquetFooter(r, size); err != nil {
		return fmt.Errorf("crawl: read %s: %w", s.name, err)
	}
	fopts := []parquet.FileOption{parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true)}
	if remote {
		fopts = append(fopts, parquet.ReadBufferSize(1<<20), parquet.OptimisticRead(true))
	}
	f, err := parquet.OpenFile(r, size, fopts...)
	if err != nil {
		return fmt.Errorf("crawl: read %s: %w", s.name, err)
	}
	if err := ulCheckParquetChunks(f, size); err != nil {
		return fmt.Errorf("crawl: read %s: %w", s.name, err)
	}
	schema := f.Schema()
	paths := schema.Columns()
	header := make([]string, len(paths))
	leaves := make([]parquet.LeafColumn, len(paths))
	for i, p := range paths {
		header[i] = strings.Join(p, ".")
		leaf, ok := schema.Lookup(p...)
		if !ok {
			return fmt.Errorf("crawl: read %s: column %q not in its own schema", s.name, header[i])
		}
		leaves[i] = leaf
	}
	cols, err := s.ulPickColumns(header)
	if err != nil {
		return err
	}
	for _, c := range []int{cols.url, cols.caption} {
		if c >= 0 && leaves[c].MaxRepetitionLevel > 0 {
			return fmt.Errorf("%w: %s: column %q is repeated; want one value per row", ErrListFormat, s.name, header[c])
		}
	}

	var (
		rowNum int64
		obj    ulObject
		buf    = make([]parquet.Row, ulParquetBatch)
		byCol  = make([][]parquet.Value, len(paths))
	)
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			if err := s.ctx.Err(); err != nil {
				rows.Close()
				return err
			}
			n, rerr := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				rowNum++
				where := " row " + strconv.FormatInt(rowNum, 10)
				for i := range byCol {
					byCol[i] = byCol[i][:0]
				}
				for _, v := range row {
					if c := v.Column(); c >= 0 && c < len(byCol) {
						byCol[c] = append(byCol[c], v)
					}
				}
				u, ok := ulParquetText(byCol[cols.url])
				if !ok {
					s.stats.Rows++
					s.bad(where, "%q is not a string", s.opts.URLColumn)
					continue
				}
				caption := ""
				if cols.caption >= 0 {
					if caption, ok = ulParquetText(byCol[cols.caption]); !ok {
						s.stats.Rows++
						s.bad(where, "%q is not text", s.opts.CaptionColumn)
						continue
					}
				}
				obj.reset()
				for _, c := range cols.extra {
					obj.add(header[c], ulParquetJSON(byCol[c], leaves[c].MaxRepetitionLevel > 0))
				}
				if err := s.row(where, u, caption, obj.bytes()); err != nil {
					rows.Close()
					return s.finish(err)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rows.Close()
				return fmt.Errorf("crawl: read %s: row %d: %w", s.name, rowNum+1, rerr)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("crawl: read %s: %w", s.name, err)
		}
	}
	return nil
}

// ulCheckParquetFooter checks the magic and the footer length before
// parquet-go allocates a buffer of that length.
func ulCheckParquetFooter(r io.ReaderAt, size int64) error {
	if size < 12 {
		return errors.New("not a parquet file: too short")
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil && err != io.EOF {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("not a parquet file (ends in %q, want \"PAR1\")", tail[4:])
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > ulParquetMaxFooter {
		return fmt.Errorf("corrupt parquet file: footer of %d bytes in a file of %d", n, size)
	}
	return nil
}

// ulCheckParquetChunks checks that every column chunk lies inside the file
// and is of a sane size.
func ulCheckParquetChunks(f *parquet.File, size int64) error {
	md := f.Metadata()
	for i, rg := range md.RowGroups {
		if rg.NumRows < 0 {
			return fmt.Errorf("corrupt parquet file: row group %d has %d rows", i, rg.NumRows)
		}
		for j, cc := range rg.Columns {
			m := cc.MetaData
			if m.TotalCompressedSize < 0 || m.TotalUncompressedSize < 0 || m.DataPageOffset < 0 ||
				m.DataPageOffset > size || m.TotalCompressedSize > size-m.DataPageOffset ||
				m.TotalUncompressedSize > ulParquetMaxColumnChunk {
				return fmt.Errorf("corrupt parquet file: column chunk %d of row group %d (offset %d, %d bytes compressed, %d uncompressed) does not fit a file of %d bytes",
					j, i, m.DataPageOffset, m.TotalCompressedSize, m.TotalUncompressedSize, size)
			}
		}
	}
	return nil
}

// ulParquetText reads one value as text: a byte array as a string, null or
// absent as "", other scalars as written.
func ulParquetText(vs []parquet.Value) (string, bool) {
	if len(vs) == 0 || vs[0].IsNull() {
		return "", true
	}
	v := vs[0]
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray()), true
	case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return v.String(), true
	}
	return "", false
}

// ulParquetJSON renders the values of one column of one row as JSON: a
// scalar, or an array for a repeated column.
func ulParquetJSON(vs []parquet.Value, repeated bool) []byte {
	if !repeated {
		if len(vs) == 0 {
			return []byte("null")
		}
		return ulParquetScalar(vs[0])
	}
	b := []byte{'['}
	n := 0
	for _, v := range vs {
		if v.IsNull() {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, ulParquetScalar(v)...)
		n++
	}
	return append(b, ']')
}

func ulParquetScalar(v parquet.Value) []byte {
	if v.IsNull() {
		return []byte("null")
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(nil, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(nil, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(nil, v.Int64(), 10)
	case parquet.Float, parquet.Double:
		x := v.Double()
		if v.Kind() == parquet.Float {
			x = float64(v.Float())
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return []byte("null")
		}
		return strconv.AppendFloat(nil, x, 'g', -1, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b, _ := json.Marshal(string(v.ByteArray()))
		return b
	}
	b, _ := json.Marshal(v.String())
	return b
}

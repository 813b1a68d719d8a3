package crawl

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registers GIF for image.DecodeConfig/Decode
	_ "image/png" // registers PNG
	"math"
	"strconv"

	_ "golang.org/x/image/webp" // registers WebP

	"github.com/clipstream/clipstream/crawl/internal/fastpng"
	"github.com/clipstream/clipstream/dedup"
)

// ResizeMode says how images are brought to ImageOptions.Size, as
// img2dataset's resize_mode.
type ResizeMode string

const (
	// ResizeNo keeps the image size.
	ResizeNo ResizeMode = "no"
	// ResizeBorder scales the longer side to Size and pads the shorter one
	// with white to a Size×Size square, the image centred (the default).
	ResizeBorder ResizeMode = "border"
	// ResizeKeepRatio scales the shorter side to Size.
	ResizeKeepRatio ResizeMode = "keep_ratio"
	// ResizeKeepRatioLargest scales the longer side to Size.
	ResizeKeepRatioLargest ResizeMode = "keep_ratio_largest"
	// ResizeCenterCrop scales the shorter side to Size and crops the centre
	// Size×Size square.
	ResizeCenterCrop ResizeMode = "center_crop"
)

// ParseResizeMode parses a mode name as the --resize-mode flag takes it.
func ParseResizeMode(s string) (ResizeMode, error) {
	switch m := ResizeMode(s); m {
	case ResizeNo, ResizeBorder, ResizeKeepRatio, ResizeKeepRatioLargest, ResizeCenterCrop:
		return m, nil
	}
	return "", fmt.Errorf("crawl: unknown resize mode %q (want no, border, keep_ratio, keep_ratio_largest or center_crop)", s)
}

// ImageOptions say how downloaded images are checked and stored.
// DefaultImageOptions gives the defaults.
type ImageOptions struct {
	Mode ResizeMode // how to resize; "" means ResizeBorder
	Size int        // target side in pixels (256)
	// Upscale resizes images smaller than Size too (img2dataset's
	// resize_only_if_bigger=False). Off by default: images are resized only
	// when bigger, and then always downscaled.
	Upscale bool
	// Quality is the JPEG quality of re-encoded images (95).
	Quality int
	// ReencodeJPEG re-encodes JPEGs that need no resize. Off by default: such
	// a JPEG (baseline or progressive, YCbCr or grey) is stored as
	// downloaded.
	ReencodeJPEG bool

	// MaxPixels rejects images whose header claims more pixels
	// (StatusDecompressionBomb) before anything is decoded. Decoding holds up
	// to 8 bytes per pixel (16-bit RGBA PNG), 1.5 to 4 for usual images.
	MaxPixels int64
	// MinSide rejects images whose shorter side is smaller (StatusTooSmall).
	MinSide int
	// MaxAspectRatio rejects images whose longer side over shorter side is
	// larger (StatusBadAspect); 0 means no limit.
	MaxAspectRatio float64
	// MinBytes rejects bodies with fewer bytes (StatusTooSmall); an empty body
	// is always rejected.
	MinBytes int
}

// DefaultImageOptions: border mode at 256 px, resize only if bigger, JPEG
// quality 95, original JPEG bytes kept when no resize is needed, at most
// 2^25 (33.5 M) pixels, shorter side at least 10 px, aspect ratio at most
// 10, at least 1 byte.
func DefaultImageOptions() ImageOptions {
	return ImageOptions{
		Mode:           ResizeBorder,
		Size:           256,
		Quality:        95,
		MaxPixels:      1 << 25,
		MinSide:        10,
		MaxAspectRatio: 10,
		MinBytes:       1,
	}
}

func (o *ImageOptions) validate() error {
	if o.Mode == "" {
		o.Mode = ResizeBorder
	}
	if _, err := ParseResizeMode(string(o.Mode)); err != nil {
		return err
	}
	if o.Mode != ResizeNo && o.Size <= 0 {
		return fmt.Errorf("crawl: image size %d: want > 0", o.Size)
	}
	if o.Quality == 0 {
		o.Quality = 95
	}
	if o.Quality < 1 || o.Quality > 100 {
		return fmt.Errorf("crawl: JPEG quality %d: want 1..100", o.Quality)
	}
	if o.MaxPixels <= 0 {
		return fmt.Errorf("crawl: max pixels %d: want > 0", o.MaxPixels)
	}
	if o.MaxAspectRatio < 0 || math.IsNaN(o.MaxAspectRatio) {
		return fmt.Errorf("crawl: max aspect ratio %v: want >= 0", o.MaxAspectRatio)
	}
	return nil
}

// ImageResult is a processed image, ready to store.
type ImageResult struct {
	Data                          []byte // JPEG to store
	Format                        string // format of the input: jpeg, png, gif, webp
	OriginalWidth, OriginalHeight int    // from the input's header
	Width, Height                 int    // of Data
	Reencoded                     bool   // false when Data is the input unchanged
	SHA256                        dedup.SHA256
	PHash                         dedup.PHash // of Data as decoded by image/jpeg (phashImage)
}

// ImageHeader is what CheckImageHeader reads.
type ImageHeader struct {
	Format        string
	Width, Height int
	ColorModel    color.Model
}

// supportedFormats are the formats decoded; others (SVG, BMP, TIFF, AVIF,
// HTML) are StatusBadImage.
var supportedFormats = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true}

// CheckImageHeader reads the format and dimensions from the header of data
// (image.DecodeConfig, so only the first bytes are parsed) and applies the
// checks that need no decoding, in order: size in bytes (StatusTooSmall),
// known format (StatusBadImage), pixel count (StatusDecompressionBomb),
// shorter side (StatusTooSmall), aspect ratio (StatusBadAspect). Errors are
// *Error.
func CheckImageHeader(data []byte, opts ImageOptions) (ImageHeader, error) {
	if len(data) == 0 {
		return ImageHeader{}, newError(StatusTooSmall, "empty body")
	}
	if len(data) < opts.MinBytes {
		return ImageHeader{}, newError(StatusTooSmall, "%d bytes < minimum %d", len(data), opts.MinBytes)
	}
	cfg, format, err := decodeConfig(data)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return ImageHeader{}, newError(StatusBadImage, "not an image: unknown format, starts with %s", sniffPrefix(data))
		}
		return ImageHeader{}, wrapError(StatusBadImage, err, "bad %s header", sniffFormat(data))
	}
	h := ImageHeader{Format: format, Width: cfg.Width, Height: cfg.Height, ColorModel: cfg.ColorModel}
	if !supportedFormats[format] {
		return h, newError(StatusBadImage, "unsupported format %s", format)
	}
	w, ht := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || ht <= 0 {
		return h, newError(StatusBadImage, "%s header gives %d×%d pixels", format, w, ht)
	}
	if w > opts.MaxPixels || ht > opts.MaxPixels || w*ht > opts.MaxPixels {
		return h, newError(StatusDecompressionBomb, "%s header claims %d×%d = %d pixels > maximum %d", format, w, ht, w*ht, opts.MaxPixels)
	}
	short, long := min(w, ht), max(w, ht)
	if short < int64(opts.MinSide) {
		return h, newError(StatusTooSmall, "%d×%d: shorter side < minimum %d", w, ht, opts.MinSide)
	}
	if opts.MaxAspectRatio > 0 && float64(long) > opts.MaxAspectRatio*float64(short) {
		return h, newError(StatusBadAspect, "%d×%d: aspect ratio %.2f > maximum %g", w, ht, float64(long)/float64(short), opts.MaxAspectRatio)
	}
	return h, nil
}

// decodeConfig is image.DecodeConfig with decoder panics turned into errors:
// the input is hostile, and a decoder bug must not take the crawl down.
func decodeConfig(data []byte) (cfg image.Config, format string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return image.DecodeConfig(bytes.NewReader(data))
}

// decodeImage decodes data, whose header said format; PNGs go through
// fastpng, which gives what image/png gives (the same image type and pixels,
// an error for the same inputs) but reuses its inflate state and buffers,
// and refuses more than maxPixels before allocating. It hands interlaced
// PNGs to image/png.
func decodeImage(data []byte, format string, maxPixels int64) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	if format == "png" {
		return fastpng.Decode(data, maxPixels)
	}
	img, _, err = image.Decode(bytes.NewReader(data))
	return img, err
}

// sniffFormat names the format by magic bytes, for messages.
func sniffFormat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF8")):
		return "gif"
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return "webp"
	}
	return "image"
}

// sniffPrefix quotes the first bytes of b for a message.
func sniffPrefix(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return strconv.QuoteToASCII(string(b))
}

// ProcessImage checks, decodes, resizes and encodes one downloaded image
// (CheckImageHeader first, so nothing too big is ever decoded). JPEG, PNG,
// GIF (first frame) and WebP are decoded; grey, CMYK, paletted and 16-bit
// images are converted to 8-bit RGB, with alpha composited on white. The
// image is then resized as opts.Mode says (downscaling by area averaging)
// and encoded as JPEG at opts.Quality, unless it needs no resize and is
// already a YCbCr or grey JPEG, which is kept byte for byte. The pHash is
// dedup.ComputePHash of the stored JPEG as image/jpeg decodes it (YCbCr
// converted with color.YCbCrToRGB), so it can be recomputed from a shard.
// Errors are *Error.
func ProcessImage(data []byte, opts ImageOptions) (*ImageResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return processImage(data, &opts)
}

// processImage is ProcessImage with validated options.
func processImage(data []byte, opts *ImageOptions) (*ImageResult, error) {
	hdr, err := CheckImageHeader(data, *opts)
	if err != nil {
		return nil, err
	}
	img, err := decodeImage(data, hdr.Format, opts.MaxPixels)
	if err != nil {
		return nil, wrapError(StatusBadImage, err, "decode %s %d×%d", hdr.Format, hdr.Width, hdr.Height)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > opts.MaxPixels {
		return nil, newError(StatusBadImage, "decoded %s is %d×%d, header said %d×%d", hdr.Format, b.Dx(), b.Dy(), hdr.Width, hdr.Height)
	}
	res := &ImageResult{Format: hdr.Format, OriginalWidth: hdr.Width, OriginalHeight: hdr.Height}

	plan := planResize(b.Dx(), b.Dy(), opts)
	if !plan.resize && hdr.Format == "jpeg" && !opts.ReencodeJPEG {
		switch img.(type) {
		case *image.Gray, *image.YCbCr:
			res.Data, res.Width, res.Height = data, b.Dx(), b.Dy()
			res.SHA256 = dedup.SumSHA256(data)
			if res.PHash, err = phashImage(img); err != nil {
				return nil, err
			}
			return res, nil
		}
	}
	out := render(img, plan)
	ow, oh := out.Rect.Dx(), out.Rect.Dy()
	if ow >= 1<<16 || oh >= 1<<16 {
		return nil, newError(StatusBadImage, "encode JPEG %d×%d: too large for JPEG", ow, oh)
	}
	// encodeJPEGRecon writes what jpeg.Encode writes and also gives the image
	// jpeg.Decode makes of it: the pHash is of what is stored, as anyone
	// reading the shard decodes it, without decoding it again here.
	var stored *image.YCbCr
	res.Data, stored = encodeJPEGRecon(out, opts.Quality)
	res.Width, res.Height = ow, oh
	res.Reencoded = true
	res.SHA256 = dedup.SumSHA256(res.Data)
	if res.PHash, err = phashImage(stored); err != nil {
		return nil, err
	}
	return res, nil
}

// phashImage hashes a decoded stored JPEG (grey, or YCbCr converted to RGB
// with color.YCbCrToRGB).
func phashImage(m image.Image) (dedup.PHash, error) {
	var g *image.Gray
	switch m := m.(type) {
	case *image.Gray:
		g = m
	case *image.YCbCr:
		g = ycbcrGray(m) // the luma ComputePHash would take from toRGBA(m)
	default:
		return phashRGBA(toRGBA(m))
	}
	h, err := dedup.ComputePHash(g)
	if err != nil {
		return 0, wrapError(StatusBadImage, err, "pHash")
	}
	return h, nil
}

// phashRGBA hashes an opaque RGBA image through dedup's NRGBA fast path
// (for opaque pixels RGBA and NRGBA are the same bytes).
func phashRGBA(m *image.RGBA) (dedup.PHash, error) {
	h, err := dedup.ComputePHash(&image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect})
	if err != nil {
		return 0, wrapError(StatusBadImage, err, "pHash")
	}
	return h, nil
}

// resizePlan is the geometry of one resize: scale the w×h source to sw×sh,
// then place it on a cw×ch canvas at (dx, dy) (negative: cropped; positive:
// white border).
type resizePlan struct {
	resize         bool
	sw, sh, cw, ch int
	dx, dy         int
}

// planResize follows img2dataset's resizer: keep_ratio and center_crop
// scale the shorter side to Size, border and keep_ratio_largest the longer;
// unless Upscale, nothing happens (no scale, no crop, no border) when that
// side is not bigger than Size, so small images keep their size in every
// mode, as with img2dataset's resize_only_if_bigger. New sides are rounded half to even, as
// Python's round in albumentations; crop and border offsets are floored.
func planResize(w, h int, opts *ImageOptions) resizePlan {
	p := resizePlan{sw: w, sh: h, cw: w, ch: h}
	size := opts.Size
	var side int
	switch opts.Mode {
	case ResizeKeepRatio, ResizeCenterCrop:
		side = min(w, h)
	case ResizeBorder, ResizeKeepRatioLargest:
		side = max(w, h)
	default:
		return p
	}
	if side == size || (side < size && !opts.Upscale) {
		return p
	}
	scale := float64(size) / float64(side)
	p.resize = true
	p.sw = max(1, int(math.RoundToEven(float64(w)*scale)))
	p.sh = max(1, int(math.RoundToEven(float64(h)*scale)))
	// The chosen side is exactly size.
	if side == w {
		p.sw = size
	}
	if side == h {
		p.sh = size
	}
	p.cw, p.ch = p.sw, p.sh
	switch opts.Mode {
	case ResizeCenterCrop:
		p.cw, p.ch = size, size
		p.dx, p.dy = -(p.sw-size)/2, -(p.sh-size)/2
	case ResizeBorder:
		p.cw, p.ch = size, size
		p.dx, p.dy = (size-p.sw)/2, (size-p.sh)/2
	}
	return p
}

package crawl

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/clipstream/clipstream/dedup"
)

// Sample is what the crawl yields for one pair (DESIGN.md, "Sample"): the
// cleaned caption and the stored image with its hashes when Status is
// StatusOK, otherwise the pair's URLs, the status and its message only.
//
// Its JSON form (MarshalJSON) is the sample metadata that goes into a
// shard's KEY.json, with img2dataset's field names where they exist (url,
// caption, status, error_message, width, height, original_width,
// original_height, sha256); the image bytes are not in it.
type Sample struct {
	ImageURL      string        // the pair's image URL, as given
	PageURL       string        // the page it was found on; "" for URL lists
	FinalURL      string        // the URL the image came from after redirects; "" when no redirect
	Caption       string        // cleaned caption (CleanCaption); the raw caption when it was rejected
	CaptionSource CaptionSource // where the caption came from
	Source        string        // which input yielded the pair (Pair.Source)

	// Image is the stored encoded image: JPEG after resizing, or the
	// original bytes when they are a JPEG that needed no change. nil unless
	// Status is StatusOK.
	Image  []byte
	Format string // format of the downloaded image: "jpeg", "png", "gif", "webp"

	// Sizes: Original* from the image header before any change, Width and
	// Height of the stored image.
	OriginalWidth, OriginalHeight int
	Width, Height                 int
	OriginalBytes                 int64 // size of the downloaded body (after Content-Encoding)

	SHA256 dedup.SHA256 // of Image
	PHash  dedup.PHash  // dedup.ComputePHash of Image as decoded (see ProcessImage)

	Status     Status
	Error      string    // the error message when Status is not StatusOK
	HTTPStatus int       // the final HTTP status code; 0 when no response
	FetchedAt  time.Time // when the response (or the failure) came

	// Extra is carried from the Pair (a URL list's extra columns).
	Extra json.RawMessage
}

// OK reports whether the sample has an image and a caption.
func (s *Sample) OK() bool { return s.Status == StatusOK }

// DedupSample is what dedup.Index.Check needs to know about s, under key.
func (s *Sample) DedupSample(key string) dedup.Sample {
	return dedup.Sample{
		Key:      key,
		URL:      s.ImageURL,
		Caption:  s.Caption,
		SHA256:   s.SHA256,
		PHash:    s.PHash,
		HasPHash: s.OK(),
	}
}

// sampleJSON is the metadata form of a Sample.
type sampleJSON struct {
	URL            string          `json:"url"`
	PageURL        string          `json:"page_url,omitempty"`
	FinalURL       string          `json:"final_url,omitempty"`
	Caption        string          `json:"caption"`
	CaptionSource  CaptionSource   `json:"caption_source,omitempty"`
	Source         string          `json:"source,omitempty"`
	Status         Status          `json:"status"`
	ErrorMessage   string          `json:"error_message,omitempty"`
	HTTPStatus     int             `json:"http_status,omitempty"`
	Format         string          `json:"format,omitempty"`
	Width          int             `json:"width,omitempty"`
	Height         int             `json:"height,omitempty"`
	OriginalWidth  int             `json:"original_width,omitempty"`
	OriginalHeight int             `json:"original_height,omitempty"`
	OriginalBytes  int64           `json:"original_bytes,omitempty"`
	Bytes          int             `json:"bytes,omitempty"`
	SHA256         string          `json:"sha256,omitempty"`
	PHash          string          `json:"phash,omitempty"`
	FetchedAt      *time.Time      `json:"fetched_at,omitempty"`
	Extra          json.RawMessage `json:"extra,omitempty"`
}

// MarshalJSON writes the sample's metadata (everything but the image
// bytes); hashes are lower-case hex.
func (s Sample) MarshalJSON() ([]byte, error) {
	j := sampleJSON{
		URL: s.ImageURL, PageURL: s.PageURL, FinalURL: s.FinalURL,
		Caption: s.Caption, CaptionSource: s.CaptionSource, Source: s.Source,
		Status: s.Status, ErrorMessage: s.Error, HTTPStatus: s.HTTPStatus,
		Format: s.Format, Width: s.Width, Height: s.Height,
		OriginalWidth: s.OriginalWidth, OriginalHeight: s.OriginalHeight,
		OriginalBytes: s.OriginalBytes, Bytes: len(s.Image),
		Extra: s.Extra,
	}
	if s.Status == StatusOK {
		j.SHA256 = s.SHA256.String()
		j.PHash = s.PHash.String()
	}
	if !s.FetchedAt.IsZero() {
		t := s.FetchedAt.UTC()
		j.FetchedAt = &t
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote; Image stays nil.
func (s *Sample) UnmarshalJSON(b []byte) error {
	var j sampleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("crawl: sample metadata: %w", err)
	}
	*s = Sample{
		ImageURL: j.URL, PageURL: j.PageURL, FinalURL: j.FinalURL,
		Caption: j.Caption, CaptionSource: j.CaptionSource, Source: j.Source,
		Status: j.Status, Error: j.ErrorMessage, HTTPStatus: j.HTTPStatus,
		Format: j.Format, Width: j.Width, Height: j.Height,
		OriginalWidth: j.OriginalWidth, OriginalHeight: j.OriginalHeight,
		OriginalBytes: j.OriginalBytes, Extra: j.Extra,
	}
	if j.FetchedAt != nil {
		s.FetchedAt = *j.FetchedAt
	}
	if j.SHA256 != "" {
		h, err := dedup.ParseSHA256(j.SHA256)
		if err != nil {
			return fmt.Errorf("crawl: sample metadata: %w", err)
		}
		s.SHA256 = h
	}
	if j.PHash != "" {
		h, err := dedup.ParsePHash(j.PHash)
		if err != nil {
			return fmt.Errorf("crawl: sample metadata: %w", err)
		}
		s.PHash = h
	}
	return nil
}

// failedSample is the Sample for a pair that failed with err.
func failedSample(p Pair, err error) Sample {
	s := Sample{
		ImageURL: p.ImageURL, PageURL: p.PageURL, Caption: p.Caption,
		CaptionSource: p.CaptionSource, Source: p.Source, Extra: p.Extra,
		Status: StatusOf(err), Error: err.Error(), FetchedAt: time.Now(),
	}
	return s
}

package crawl

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanCaption(t *testing.T) {
	opts := DefaultCaptionOptions()
	tests := []struct {
		name, in, want string // want "" means rejected
	}{
		{"plain", "A red fox in the snow", "A red fox in the snow"},
		{"entities", "Fish &amp; chips at the caf&eacute; &#8211; &#x1F600;", "Fish & chips at the café – 😀"},
		{"entities_once", "AT&amp;amp;T logo", "AT&amp;T logo"},
		{"latin1_bytes", "Caf\xe9 cr\xe8me br\xfbl\xe9e", "Café crème brûlée"},
		{"cp1252_quotes", "\x93smart quotes\x94 and \x85", "“smart quotes” and …"},
		{"invalid_bytes_bad_utf8", "grinning face with \xff\xfebad bytes", "grinning face with ÿþbad bytes"},
		{"controls", "tab\there\nnew\x00line\x07bell", "tab here newlinebell"},
		{"zero_width", "zero\u200bwidth\ufeff space\u202e", "zerowidth space"},
		{"emoji_zwj_kept", "family 👨\u200d👩\u200d👧 photo", "family 👨\u200d👩\u200d👧 photo"},
		{"whitespace_folded", "  lots \u00a0 of\t\t space  ", "lots of space"},
		{"nfc", "cafe\u0301 noir", "café noir"},
		{"too_short", "cat", ""},
		{"short_after_clean", "  a \x00 b  ", ""},
		{"empty", "", ""},
		{"only_spaces", " \t\n ", ""},
		{"digits", "1234567", ""},
		{"date", "2021-05-03", ""},
		{"emoji_only", "😀😀😀😀😀", ""},
		{"file_name", "IMG_1234.JPG", ""},
		{"file_name_words", "my holiday photo.jpeg", ""},
		{"file_name_webp", "hero-banner-2x.webp", ""},
		{"camera_name", "DSC01234", ""},
		{"camera_name_underscore", "IMG_20200101_123456", ""},
		{"generic_number", "image (3)", ""},
		{"photo_12", "Photo 12", ""},
		{"generic_image", "Image", ""},
		{"generic_logo", "logo", ""},
		{"generic_photo_punct", "Photo.", ""},
		{"generic_click_here", "Click here", ""},
		{"generic_placeholder", "placeholder image", ""},
		{"url", "https://example.com/a.png", ""},
		{"hex_id", "3f2a9c0de4b1a7f6", ""},
		{"uuid", "123e4567-e89b-12d3-a456-426614174000", ""},
		{"logo_with_words_kept", "Logo of the Red Cross", "Logo of the Red Cross"},
		{"image_of_kept", "Image of a lighthouse at dusk", "Image of a lighthouse at dusk"},
		{"hexy_word_kept", "deadbeef cafe", "deadbeef cafe"},
		{"cjk", "東京タワーの夜景", "東京タワーの夜景"},
		{"too_long", strings.Repeat("word ", 300), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CleanCaption(tc.in, opts)
			if tc.want == "" {
				var e *Error
				if err == nil || !errors.As(err, &e) || e.Kind != StatusCaptionRejected {
					t.Fatalf("CleanCaption(%q) = %q, %v; want caption_rejected", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CleanCaption(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestCleanCaptionKeepBoilerplate(t *testing.T) {
	opts := DefaultCaptionOptions()
	opts.KeepBoilerplate = true
	if got, err := CleanCaption("IMG_1234.jpg", opts); err != nil || got != "IMG_1234.jpg" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// FuzzCleanCaption: the cleaner never panics, and what it accepts is valid
// UTF-8, NFC-stable, free of controls and of leading, trailing or doubled
// spaces, within the bounds, and cleaning it again changes nothing.
func FuzzCleanCaption(f *testing.F) {
	for _, s := range []string{
		"A red fox", "Caf\xe9 &amp; cr\xe8me", "\x00\x01\x02abcde", "IMG_1234.jpg", "&#0;&#x110000;&#xD800;text here",
		"\u202e\u200b\ufeffhidden text", "a\u0301\u0301\u0301bcde", strings.Repeat("é", 1200), "\xff\xfe\xfd\x80\x81 words",
	} {
		f.Add(s)
	}
	opts := DefaultCaptionOptions()
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanCaption(in, opts)
		if err != nil {
			if StatusOf(err) != StatusCaptionRejected {
				t.Fatalf("error of kind %s", StatusOf(err))
			}
			return
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		n := utf8.RuneCountInString(out)
		if n < opts.MinChars || n > opts.MaxChars {
			t.Fatalf("length %d out of bounds: %q", n, out)
		}
		if strings.TrimSpace(out) != out || strings.Contains(out, "  ") {
			t.Fatalf("spaces not folded: %q", out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || dropRune(r) {
				t.Fatalf("control %U left in %q", r, out)
			}
		}
		// Idempotent, except that entities revealed by the first decoding
		// ("&amp;lt;" → "&lt;") decode again: compare without '&'.
		if !strings.Contains(out, "&") {
			again, err := CleanCaption(out, opts)
			if err != nil || again != out {
				t.Fatalf("not idempotent: %q → %q, %v", out, again, err)
			}
		}
	})
}

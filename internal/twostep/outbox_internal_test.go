package twostep

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClip: what a provider or an endpoint answered is stored as one
// line of valid UTF-8 without control characters (PostgreSQL refuses
// invalid UTF-8 and NUL in text), cut to its bound.
func TestClip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"500 Bad\xff\xfe Gateway", "500 Bad Gateway"},
		{"a\x00b\r\nc\td\x7fe", "a b c d e"},
		{"  many   spaces\n", "many spaces"},
	} {
		if got := clip(tc.in, 300); got != tc.want {
			t.Errorf("clip(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := clip(strings.Repeat("é", 200), 301)
	if len(long) > 301 || !utf8.ValidString(long) {
		t.Errorf("a long clip: %d bytes, valid %v", len(long), utf8.ValidString(long))
	}
}

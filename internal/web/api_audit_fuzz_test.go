package web

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzCSVSafe checks the export's defence against formula injection on
// random cells: the output never starts like a formula, holds no control
// characters, and differs from the input only by a leading apostrophe and
// control characters turned to spaces.
func FuzzCSVSafe(f *testing.F) {
	for _, s := range []string{
		"", "Anna Ozola", "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "=HYPERLINK(\"http://x\",\"y\")",
		"'already", " =1", "\x00=1", "a\x00b\x1fc\x7fd", "\u0085\u2028\u202e", "＝1", "\xff=1", "=\xff",
		"user.2fa_enabled", "\u00e9\u00e8", strings.Repeat("=", 10000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := csvSafe(in)
		if out != "" && strings.ContainsRune("=+-@\t\r", rune(out[0])) {
			t.Fatalf("csvSafe(%q) = %q starts like a formula", in, out)
		}
		if strings.IndexFunc(out, unicode.IsControl) >= 0 {
			t.Fatalf("csvSafe(%q) = %q holds control characters", in, out)
		}
		// What csvSafe may do: control characters become spaces (invalid
		// UTF-8 bytes, which are not text, become U+FFFD as strings.Map
		// makes them), and one apostrophe goes in front.
		var want strings.Builder
		for _, r := range in {
			if unicode.IsControl(r) {
				r = ' '
			}
			want.WriteRune(r)
		}
		w := want.String()
		formula := w != "" && strings.ContainsRune("=+-@", rune(w[0]))
		if (formula && out != "'"+w) || (!formula && out != w) {
			t.Fatalf("csvSafe(%q) = %q, want %q with an apostrophe in front only of a formula", in, out, w)
		}
	})
}

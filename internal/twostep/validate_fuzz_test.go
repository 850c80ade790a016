package twostep

import (
	"errors"
	"strings"
	"testing"
)

// Fuzz targets for the normalisers that every outside value goes through.
// Each checks that bad input becomes an invalid_value *Error for the right
// field, never a panic, and that what comes out is in canonical form: a
// second pass over the output gives the output back.

// wantInvalid fails t unless err is an invalid_value *Error on field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidValue || e.Field != field {
		t.Fatalf("error %#v is not invalid_value on %q", err, field)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"+371 2000 0001", "+37120000001", "+1 650 253 0000", "+44 7911 123456", "+1-800-555-0100",
		"+49 (0)30 1234567", "+371 2000 0001 ext. 5", "+", "++371", "  +371 6700 0001  ", "00371 2000 0001",
		"+٣٧١٢٠٠٠٠٠٠١", "+1 ２０１ ５５５ ０１２３", "+800 1234 5678", "+882 3456 7890", "+979 123456789",
		"+7 (495) 123-45-67;ext=99", "+1 650 253 0000\x00", "tel:+1-650-253-0000", "+99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var anyKind string
		for _, kind := range []PhoneKind{AnyPhone, MobilePhone} {
			got, err := NormalizePhone("phone", s, kind)
			if err != nil {
				wantInvalid(t, err, "phone")
				continue
			}
			if strings.TrimSpace(s) == "" {
				if got != "" {
					t.Fatalf("NormalizePhone(%q) = %q, want empty", s, got)
				}
				continue
			}
			// Only + and digits. Not checked: E.164's 15 digits, which
			// libphonenumber lets some German numbers exceed.
			if !strings.HasPrefix(got, "+") || len(got) < 2 || strings.Trim(got[1:], "0123456789") != "" {
				t.Fatalf("NormalizePhone(%q, %d) = %q, not + and digits", s, kind, got)
			}
			again, err := NormalizePhone("phone", got, kind)
			if err != nil || again != got {
				t.Fatalf("NormalizePhone(%q, %d) = %q, but normalising that gives %q, %v", s, kind, got, again, err)
			}
			if kind == AnyPhone {
				anyKind = got
			} else if got != anyKind {
				t.Fatalf("NormalizePhone(%q): mobile %q but any %q", s, got, anyKind)
			}
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"anna@acme.com", "Anna.Ozola@ACME.COM", " rita@acme.com ", "a@b", "a@b.", "@acme.com", "a@@acme.com",
		`"a@b"@acme.com`, `"a b"@acme.com`, "Anna <anna@acme.com>", "anna@[127.0.0.1]", "ÄNNA@ÖRG.LV",
		"a@xn--80ak6aa92e.com", "a@K.com", "a@İ.com", "anna@acme.com\x00", "(comment)anna@acme.com",
		"anna@acme.com (comment)", "=cmd@acme.com", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail("email", s)
		if err != nil {
			wantInvalid(t, err, "email")
			return
		}
		if strings.TrimSpace(s) == "" {
			if got != "" {
				t.Fatalf("NormalizeEmail(%q) = %q, want empty", s, got)
			}
			return
		}
		if n := strings.Count(got, "@"); n != 1 {
			t.Fatalf("NormalizeEmail(%q) = %q, with %d '@'", s, got, n)
		}
		again, err := NormalizeEmail("email", got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, but normalising that gives %q, %v", s, got, again, err)
		}
	})
}

func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com", "HTTPS://App.Example.COM:443/", "http://localhost:3000", "http://[::1]:80",
		"https://app.example.com/path", "https://app.example.com?x=1", "https://app.example.com#top",
		"https://user:pass@app.example.com", "ftp://app.example.com", "https://", "https://:443", "//app.example.com",
		"https://app.example.com:99999", "https://ÄPP.example.com", "https://%C3%A4pp.example.com",
		"https://app.example.com:0443", "javascript:alert(1)", "https://a\x00b.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeOrigin("origin", s)
		if err != nil {
			wantInvalid(t, err, "origin")
			return
		}
		scheme, host, ok := strings.Cut(got, "://")
		if !ok || (scheme != "http" && scheme != "https") || host == "" || strings.ContainsAny(host, "/?#") {
			t.Fatalf("NormalizeOrigin(%q) = %q, not scheme://host[:port]", s, got)
		}
		again, err := NormalizeOrigin("origin", got)
		if err != nil || again != got {
			t.Fatalf("NormalizeOrigin(%q) = %q, but normalising that gives %q, %v", s, got, again, err)
		}
	})
}

func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{
		"123456", " 123 456 ", "#123-456", "123\u00a0456", "12345", "1234567", "12345a", "١٢٣٤٥٦",
		"１２３４５６", "##123456", "123456#", "-1-2-3-4-5-6-", "", "#", "000000", "123456\x00", "+123456",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeCode(s)
		if err != nil {
			wantInvalid(t, err, "code")
			return
		}
		if len(got) != CodeDigits || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("NormalizeCode(%q) = %q, not %d ASCII digits", s, got, CodeDigits)
		}
		if again, err := NormalizeCode(got); err != nil || again != got {
			t.Fatalf("NormalizeCode(%q) = %q, but normalising that gives %q, %v", s, got, again, err)
		}
	})
}

// fuzzCursor has the fields of every cursor the store makes.
type fuzzCursor struct {
	Name string `json:"n"`
	ID   string `json:"i"`
	Seq  int64  `json:"s"`
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		EncodeCursor(fuzzCursor{Name: "anna ozola", ID: "usr_1"}), EncodeCursor(fuzzCursor{Seq: 42}),
		EncodeCursor(map[string]any{"s": 1e300}), EncodeCursor(map[string]any{"n": []any{map[string]any{}}}),
		EncodeCursor("just a string"), EncodeCursor(nil), "", "e30", "e30=", "e3+/", "!!!", "eyJzIjoxfQ",
		strings.Repeat("A", 1025), "eyJzIjotOTIyMzM3MjAzNjg1NDc3NTgwOX0", // {"s":-9223372036854775809}
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c fuzzCursor
		if err := DecodeCursor(s, &c); err != nil {
			wantInvalid(t, err, "cursor")
			return
		}
		var back fuzzCursor
		if err := DecodeCursor(EncodeCursor(c), &back); err != nil || back != c {
			t.Fatalf("cursor %+v from %q does not survive a round trip: %+v, %v", c, s, back, err)
		}
	})
}

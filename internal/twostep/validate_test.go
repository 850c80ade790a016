package twostep

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind PhoneKind
		want string // "" with ok false: refused
		ok   bool
	}{
		{"+371 2000 0001", MobilePhone, "+37120000001", true},              // Latvian mobile
		{"+44 7911 123456", MobilePhone, "+447911123456", true},            // UK mobile
		{"+1 (201) 555-0123", MobilePhone, "+12015550123", true},           // US: fixed line or mobile
		{"+44 20 7946 0958", MobilePhone, "", false},                       // UK fixed line: no SMS
		{"+44 20 7946 0958", AnyPhone, "+442079460958", true},              // fine to call
		{"+44 909 879 0000", MobilePhone, "", false},                       // UK premium rate
		{"+44 800 123 4567", MobilePhone, "", false},                       // UK toll-free
		{"+1 900 555 0123", MobilePhone, "", false},                        // US premium rate
		{"20000001", MobilePhone, "", false},                               // no country code
		{"+371 123", MobilePhone, "", false},                               // too short
		{"+999 1234 5678", AnyPhone, "", false},                            // no such country
		{"call me", AnyPhone, "", false},                                   // not a number
		{"", MobilePhone, "", true},                                        // empty stays empty
		{"+3712000000112345678901234567890123456789", AnyPhone, "", false}, // too long
	} {
		got, err := NormalizePhone("phone", tc.in, tc.kind)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("NormalizePhone(%q, %v) = %q, %v; want %q", tc.in, tc.kind, got, err, tc.want)
		}
		if !tc.ok {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidValue || e.Field != "phone" {
				t.Errorf("NormalizePhone(%q, %v) = %q, %v; want an invalid_value error on phone", tc.in, tc.kind, got, err)
			}
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"anna@example.com":        "anna@example.com",
		" Anna.Ozola@Example.COM": "Anna.Ozola@example.com", // the local part keeps its case
		"a+tag@sub.example.lv":    "a+tag@sub.example.lv",
		"":                        "",
		"anna":                    "!",
		"anna@localhost":          "!",
		"Anna <anna@example.com>": "!",
		"anna@@example.com":       "!",
		"anna@example.com.":       "!",
		"anna@[127.0.0.1]":        "!",
		"a b@example.com":         "!",
	} {
		got, err := NormalizeEmail("email", in)
		if want == "!" {
			if err == nil {
				t.Errorf("NormalizeEmail(%q) = %q; want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com":                             "https://app.example.com",
		"https://app.example.com/":                            "https://app.example.com",
		"https://app.example.com:443":                         "https://app.example.com",
		"http://localhost:3000":                               "http://localhost:3000",
		"http://[::1]:8080":                                   "http://[::1]:8080",
		"https://app.example.com/x":                           "!",
		"https://app.example.com?a=1":                         "!",
		"ftp://app.example.com":                               "!",
		"app.example.com":                                     "!",
		"https://user@app.example.com":                        "!",
		"javascript:alert(1)":                                 "!",
		"":                                                    "!",
		"http://192.168.1.20:8080":                            "http://192.168.1.20:8080",
		"https://xn--80ak6aa92e.com":                          "https://xn--80ak6aa92e.com",
		"https://a-b.c0.example":                              "https://a-b.c0.example",
		"http://[2001:DB8::1]":                                "http://[2001:db8::1]",
		"http://2130706433":                                   "!", // a browser reads 127.0.0.1
		"http://127.1":                                        "!",
		"http://0x7f.0.0.1":                                   "!",
		"https://app.example.123":                             "!",
		"https://app_1.example.com":                           "!",
		"https://-app.example.com":                            "!",
		"https://app..example.com":                            "!",
		"https://app.example.com.":                            "!",
		"https://пример.com":                                  "!", // use the xn-- form
		"https://app.example.com:0":                           "!",
		"https://app.example.com:99999":                       "!",
		"http://[fe80::1%25eth0]":                             "!",
		"https://a%20b.example.com":                           "!",
		"https://" + strings.Repeat("a", 64) + ".example.com": "!",
	} {
		got, err := NormalizeOrigin("origin", in)
		if want == "!" {
			if err == nil {
				t.Errorf("NormalizeOrigin(%q) = %q; want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	if _, err := cleanText("name", "Anna\x00", 200, false); err == nil {
		t.Error("a NUL byte was accepted")
	}
	if _, err := cleanText("name", "  ", 200, false); err == nil {
		t.Error("blank name was accepted")
	}
	if got, err := cleanText("name", " Ānna Ozoliņa ", 200, false); err != nil || got != "Ānna Ozoliņa" {
		t.Errorf("got %q, %v", got, err)
	}
	long := strings.Repeat("ā", 201)
	if _, err := cleanText("name", long, 200, false); err == nil {
		t.Error("201 characters were accepted")
	}
}

func TestFuzzFindings(t *testing.T) {
	// A search with a NUL would cut SQLite's LIKE short: refused.
	if _, err := cleanQuery("1\x00"); err == nil {
		t.Error("a search with a NUL was accepted")
	}
	// IPv6 zones name a local interface, and did not normalise twice.
	if o, err := NormalizeOrigin("origin", "http://[fe80::1%25en0]:8080"); err == nil {
		t.Errorf("an origin with a zone was accepted: %q", o)
	}
	// Lower case can make a domain longer in bytes than the limit.
	if e, err := NormalizeEmail("email", "a@"+strings.Repeat("Ⱥ", 120)+".com"); err == nil {
		t.Errorf("an email over the limit after lower-casing was accepted: %d bytes", len(e))
	}
}

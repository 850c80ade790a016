package twostep

import (
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Text limits, in characters.
const (
	maxNameLen       = 200
	maxExternalIDLen = 255
	maxEmailLen      = 254
)

// cleanText trims s and checks that it is 1..max characters of valid UTF-8
// without control characters. Empty input is allowed when optional is true.
func cleanText(field, s string, max int, optional bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && optional:
		return "", nil
	case s == "":
		return "", Invalid(field, "%s must not be empty", field)
	case !utf8.ValidString(s):
		return "", Invalid(field, "%s must be valid UTF-8 text", field)
	case utf8.RuneCountInString(s) > max:
		return "", Invalid(field, "%s must be at most %d characters", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", Invalid(field, "%s must not contain control characters", field)
		}
	}
	return s, nil
}

// cleanQuery checks a search: a NUL or another control character would cut
// SQLite's LIKE short and PostgreSQL refuses it.
func cleanQuery(q string) (string, error) {
	if q == "" {
		return "", nil
	}
	return cleanText("q", q, maxNameLen, true)
}

// NormalizeEmail checks an email address and returns it with its domain in
// lower case. The empty string stays empty.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := Invalid(field, "%s must be an email address like name@example.com", field)
	if len(s) > maxEmailLen || !utf8.ValidString(s) {
		return "", bad
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", bad
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.ContainsAny(domain, "[]") {
		return "", bad
	}
	if out := local + "@" + domain; len(out) <= maxEmailLen {
		return out, nil
	}
	return "", bad // lower case can take more bytes
}

// PhoneKind says which phone numbers a field accepts.
type PhoneKind int

const (
	// AnyPhone accepts every valid number (a contact to call).
	AnyPhone PhoneKind = iota
	// MobilePhone accepts only numbers that can receive SMS: mobile or
	// fixed-line-or-mobile. Premium-rate, toll-free and the rest are refused.
	MobilePhone
)

// NormalizePhone parses an international phone number and returns it in
// E.164 form (+37120000001). The empty string stays empty.
func NormalizePhone(field, s string, kind PhoneKind) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 40 || !strings.HasPrefix(s, "+") {
		return "", Invalid(field, "%s must be an international number starting with + and the country code, like +371 2000 0001", field)
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", Invalid(field, "%s is not a valid phone number", field)
	}
	if kind == MobilePhone {
		switch phonenumbers.GetNumberType(n) {
		case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		default:
			return "", Invalid(field, "%s must be a mobile number that can receive SMS", field)
		}
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// knownRegion reports whether r is a region code with phone numbers.
func knownRegion(r string) bool {
	_, ok := phonenumbers.GetSupportedRegions()[r]
	return ok
}

// phoneRegion is the region of an E.164 number, "" if unknown.
func phoneRegion(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}

// NormalizeOrigin checks a web origin (scheme://host[:port]) and returns it
// in canonical form: lower case, no default port, no trailing slash.
func NormalizeOrigin(field, s string) (string, error) {
	bad := Invalid(field, "%s must be an origin like https://app.example.com, without a path", field)
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", bad
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if !validHost(host) {
		return "", bad
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", bad
		}
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}

// validHost accepts what a browser takes for the same host in every
// case: an IPv4 address in dotted-quad form, an IPv6 address without a
// zone (zones name a local interface), or a DNS name of letters, digits
// and hyphens whose last label is not all digits (browsers read
// 2130706433 and 127.1 as addresses). Names in other scripts must come in
// their xn-- (punycode) form.
func validHost(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Zone() == "" && (a.Is6() || a.Is4())
	}
	if len(host) == 0 || len(host) > 253 || strings.Contains(host, ":") {
		return false
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != "" && !strings.HasPrefix(last, "0x")
}

package twostep

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// idEncoding is lower-case base32 without padding: ids stay readable,
// case-insensitive and safe in URLs.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ID prefixes say what an id names.
const (
	prefixCompany       = "co_"
	prefixUser          = "usr_"
	prefixEvent         = "evt_"
	prefixAPIKey        = "key_"
	prefixChallenge     = "ch_"
	prefixAuthenticator = "auth_"
)

// newID returns prefix followed by 128 random bits.
func newID(rand io.Reader, prefix string) (string, error) {
	return randomToken(rand, prefix, 16)
}

// randomToken returns prefix followed by n random bytes in idEncoding.
func randomToken(rand io.Reader, prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b), nil
}

// Cursors are opaque to clients: base64url of a small JSON value that only
// the store interprets. A cursor that does not decode is a client error.

// EncodeCursor returns the cursor for v.
func EncodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cursor: %v", err)) // cursors hold strings and numbers only
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by EncodeCursor into v.
func DecodeCursor(s string, v any) error {
	bad := Invalid("cursor", "cursor is not valid; use next_cursor from the previous page")
	if len(s) > 1024 || strings.ContainsAny(s, "=+/") {
		return bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad
	}
	if err := json.Unmarshal(b, v); err != nil {
		return bad
	}
	return nil
}

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// checkLimit applies the default and checks the bounds of a list's limit.
func checkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultLimit, nil
	case limit < 1 || limit > MaxLimit:
		return 0, Invalid("limit", "limit must be between 1 and %d", MaxLimit)
	}
	return limit, nil
}

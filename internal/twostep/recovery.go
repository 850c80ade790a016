package twostep

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Recovery codes let a user in who has lost their authenticator: a set of
// RecoveryCodeCount, each RecoveryCodeBytes random bytes, shown once,
// kept only as a keyed hash, each good for one sign-in.
const (
	RecoveryCodeCount = 10
	RecoveryCodeBytes = 10 // 80 bits, written as 16 base32 letters and digits
)

// recoveryEncoding is lower-case base32 without padding: no 0, 1, 8 or 9
// to mistake for O, I, B or g.
var recoveryEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCodes returns a set of codes, each as people read it: four
// groups of four, like "k3vq-7ma2-xp4d-hw6t".
func newRecoveryCodes(rand io.Reader) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	b := make([]byte, RecoveryCodeBytes)
	for i := range codes {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, fmt.Errorf("random: %w", err)
		}
		s := recoveryEncoding.EncodeToString(b)
		codes[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
	}
	return codes, nil
}

// NormalizeRecoveryCode accepts a recovery code as people type it: any
// case, with or without the hyphens or spaces between its groups.
func NormalizeRecoveryCode(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
	if s == "" {
		return "", Invalid("code", "Enter a recovery code")
	}
	if _, err := recoveryEncoding.DecodeString(s); err != nil || len(s) != 16 {
		return "", Invalid("code", "A recovery code is 16 letters and digits, like k3vq-7ma2-xp4d-hw6t")
	}
	return s, nil
}

// recoveryHash is how a recovery code is kept: an HMAC with the code key,
// bound to its user, of the normalized code.
func recoveryHash(key []byte, userID, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("recovery\x00"))
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

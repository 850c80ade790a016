package twostep

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CodeDigits is the length of a one-time code.
const CodeDigits = 6

// newCode returns a code of CodeDigits decimal digits, uniform over
// 000000–999999, leading zeros kept. Rejection sampling keeps it uniform:
// values of the 32-bit draw above the last whole multiple of a million are
// drawn again.
func newCode(rand io.Reader) (string, error) {
	const n = 1_000_000
	const limit = (1 << 32) / n * n
	var b [4]byte
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%n), nil
		}
	}
}

// NormalizeCode accepts what people paste: it drops spaces, hyphens and
// a leading '#', then checks for exactly CodeDigits digits.
func NormalizeCode(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
	switch {
	case s == "":
		return "", Invalid("code", "Enter the 6-digit code")
	case strings.Trim(s, "0123456789") != "":
		return "", Invalid("code", "The code must be 6 digits, numbers only")
	case len(s) != CodeDigits:
		return "", Invalid("code", "The code must be 6 digits; you entered %d", len(s))
	}
	return s, nil
}

// codeHash is how a code is kept: an HMAC bound to its challenge, so a code
// of one challenge never passes for another and a stolen database does not
// give codes away.
func codeHash(key []byte, challengeID, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challengeID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// codeMatches compares a guess with a stored hash in constant time.
func codeMatches(key []byte, challengeID, guess, stored string) bool {
	if stored == "" {
		return false
	}
	return hmac.Equal([]byte(codeHash(key, challengeID, guess)), []byte(stored))
}

// sealer encrypts codes for the outbox: a message must carry its code until
// it is sent, and a code must never sit in the database in clear. The key
// lives in the secret file, not in the database.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	if len(key) != 32 {
		return sealer{}, errors.New("outbox key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	return sealer{aead}, err
}

// seal encrypts code, bound to the message it belongs to.
func (s sealer) seal(rand io.Reader, code, binding string) (string, error) {
	if s.aead == nil {
		return "", errors.New("no outbox key: this service cannot send codes")
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(code), []byte(binding))), nil
}

// open decrypts what seal made for the same binding.
func (s sealer) open(sealed, binding string) (string, error) {
	if s.aead == nil {
		return "", errors.New("no outbox key: this service cannot send codes")
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("sealed code is malformed")
	}
	n := s.aead.NonceSize()
	code, err := s.aead.Open(nil, b[:n], b[n:], []byte(binding))
	if err != nil {
		return "", errors.New("sealed code does not open with this secret file")
	}
	return string(code), nil
}

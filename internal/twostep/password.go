package twostep

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's Password Storage Cheat Sheet names m=19 MiB,
// t=2, p=1 as a sound minimum. They are stored with each hash, so they can
// grow without breaking old hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// Password length limits (NIST SP 800-63B allows long passphrases; the
// upper bound only stops absurd inputs).
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// commonPasswords are refused outright, whatever their length; NIST asks
// for a check against known-bad passwords.
var commonPasswords = map[string]bool{
	"password1234": true, "123456789012": true, "qwertyuiopas": true, "passwordpassword": true,
	"iloveyou1234": true, "letmein12345": true, "administrator": true, "changeme1234": true,
	"welcome12345": true, "1234567890ab": true, "aaaaaaaaaaaa": true, "qwerty123456": true,
}

// checkPassword says why a new password is not acceptable, if it is not.
func checkPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return Invalid("password", "Enter a password of at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return Invalid("password", "Enter a password of at most %d characters", MaxPasswordLen)
	case commonPasswords[strings.ToLower(pw)]:
		return Invalid("password", "This password is too common; choose another")
	case email != "" && (strings.Contains(strings.ToLower(pw), strings.ToLower(email)) ||
		strings.EqualFold(pw, strings.Split(email, "@")[0])):
		return Invalid("password", "The password must not be or contain your email address")
	}
	return nil
}

// hashPassword returns an argon2id hash as a PHC string.
func hashPassword(rand io.Reader, pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64(salt), b64(key)), nil
}

// dummyHash is checked against when there is no account, so that an
// unknown email costs the same time as a wrong password. It is a
// constant, not hashed at start-up, which would take 19 MiB of memory the
// server may never need again; TestDummyHashCostsWhatAHashDoes keeps its
// parameters those of hashPassword.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$dHdvc3RlcC1kdW1teS1zYQ$P0d8X+1HZ5+wYXe8akxN/RltAWWwFYo4hMswohsW+C0"

// passwordMatches checks pw against a PHC string in constant time.
func passwordMatches(pw, phc string) bool {
	var (
		version, memory, time int
		threads               int
		salt64, key64         string
	)
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil ||
		memory < 1 || memory > 1<<22 || time < 1 || time > 20 || threads < 1 || threads > 16 {
		return false
	}
	salt64, key64 = parts[4], parts[5]
	salt, err1 := base64.RawStdEncoding.DecodeString(salt64)
	want, err2 := base64.RawStdEncoding.DecodeString(key64)
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, uint32(time), uint32(memory), uint8(threads), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

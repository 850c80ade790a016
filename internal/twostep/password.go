package twostep

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	_ "embed" // the list of common passwords
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
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

// Password length limits, in characters (NIST SP 800-63B-4 3.1.1.2: at
// least 8 when a second factor follows, as it always does in the console;
// at least 64 allowed; the upper bound only stops absurd inputs).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// commonPasswordsGz is a list of common and breached passwords that new
// passwords are checked against (NIST SP 800-63B-4 3.1.1.2): the 150,000
// most common passwords of 8 to 64 characters in SecLists'
// 10-million-password-list-top-1000000.txt (Daniel Miessler and Jason
// Haddix, OWASP SecLists, CC BY-SA 3.0), in lower case, without
// duplicates, sorted, one per line.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords is that list, read once when a password is first
// checked: one block of text and where each line starts.
var commonPasswords = sync.OnceValues(func() (passwordList, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		return passwordList{}, err
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return passwordList{}, err
	}
	l := passwordList{text: text}
	for i := 0; i < len(text); {
		l.starts = append(l.starts, uint32(i))
		n := bytes.IndexByte(text[i:], '\n')
		if n < 0 {
			break
		}
		i += n + 1
	}
	return l, nil
})

// passwordList is a sorted list of passwords, one per line.
type passwordList struct {
	text   []byte
	starts []uint32
}

// Len is the number of passwords.
func (l passwordList) Len() int { return len(l.starts) }

func (l passwordList) at(i int) string {
	end := len(l.text)
	if i+1 < len(l.starts) {
		end = int(l.starts[i+1])
	}
	return strings.TrimSuffix(string(l.text[l.starts[i]:end]), "\n")
}

// contains reports whether pw, in lower case, is on the list.
func (l passwordList) contains(pw string) bool {
	pw = strings.ToLower(pw)
	i := sort.Search(l.Len(), func(i int) bool { return l.at(i) >= pw })
	return i < l.Len() && l.at(i) == pw
}

// normalizePassword is the form a password is checked and hashed in:
// Unicode NFKC, so that the same characters typed on another keyboard
// or system match (NIST SP 800-63B-4 3.1.1.2).
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

// CheckPassword says why a new password is not acceptable, if it is not;
// a form may ask before it sends the password to be saved, to name every
// mistake at once.
func CheckPassword(pw, email string) error {
	pw = normalizePassword(pw)
	n := utf8.RuneCountInString(pw)
	common, err := commonPasswords()
	if err != nil {
		return Internal(fmt.Errorf("the list of common passwords: %w", err))
	}
	switch {
	case n < MinPasswordLen:
		return Invalid("password", "Enter a password of at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return Invalid("password", "Enter a password of at most %d characters", MaxPasswordLen)
	case common.contains(pw):
		return Invalid("password", "This password is on a list of common or breached passwords; choose another")
	case email != "" && (strings.Contains(strings.ToLower(pw), strings.ToLower(email)) ||
		strings.EqualFold(pw, strings.Split(email, "@")[0])):
		return Invalid("password", "The password must not be or contain your email address")
	}
	return nil
}

// passwordHasher runs argon2id at most as many times at once as there are
// CPUs: each run takes argonMemory, so a burst of sign-ins could
// otherwise take the server's memory with it (60 at once took 925 MiB).
// The rest wait a little for a turn, then are told to come back.
type passwordHasher struct {
	slots chan struct{}
	wait  time.Duration
}

// argonWait is how long a password check waits for its turn.
const argonWait = 2 * time.Second

// errBusy answers a password check that found no free turn in time.
var errBusy = &Error{Code: CodeUnavailable, Message: "The service is busy. Try again in a moment.", RetryAfter: time.Second}

func newPasswordHasher(n int, wait time.Duration) *passwordHasher {
	return &passwordHasher{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// turn waits for a free turn, or fails with errBusy; done gives it back.
func (h *passwordHasher) turn(ctx context.Context) (done func(), err error) {
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hash hashes a new password, normalised, in turn.
func (h *passwordHasher) hash(ctx context.Context, rand io.Reader, pw string) (string, error) {
	done, err := h.turn(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	return hashPassword(rand, normalizePassword(pw))
}

// matches checks a password against a hash, in turn. A hash made before
// passwords were normalised is of the password as typed, so a password
// that normalising changes is tried both ways.
func (h *passwordHasher) matches(ctx context.Context, pw, phc string) (bool, error) {
	done, err := h.turn(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	n := normalizePassword(pw)
	return passwordMatches(n, phc) || (n != pw && passwordMatches(pw, phc)), nil
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

package providertest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// TOTP is what an authenticator app shows at t for a base32 key (as the
// enrolment page or API gives it, spaces allowed): RFC 6238 with SHA-1,
// 30-second steps and 6 digits, written here apart from the service's own
// code so that tests check one against the other.
func TOTP(key string, t time.Time) string {
	key = strings.ToUpper(strings.ReplaceAll(key, " ", ""))
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key)
	if err != nil {
		panic(fmt.Sprintf("providertest.TOTP: key %q: %v", key, err))
	}
	var counter [8]byte
	binary.BigEndian.PutUint64(counter[:], uint64(t.Unix()/30))
	mac := hmac.New(sha1.New, secret)
	mac.Write(counter[:])
	h := mac.Sum(nil)
	o := int(h[19] & 15)
	n := (int(h[o])&0x7f)<<24 | int(h[o+1])<<16 | int(h[o+2])<<8 | int(h[o+3])
	return fmt.Sprintf("%06d", n%1_000_000)
}

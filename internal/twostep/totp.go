package twostep

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Authenticator apps speak TOTP (RFC 6238): HMAC-SHA1 over the number of
// 30-second steps since the Unix epoch, truncated to 6 digits (RFC 4226).
const (
	totpPeriod     = 30 // seconds a code stands for
	totpSecretSize = 20 // bytes: 160 bits, as RFC 4226 recommends
	totpDrift      = 1  // steps either side of now still accepted
)

// totpKey is the base32 form people and apps exchange a secret in.
var totpKey = base32.StdEncoding.WithPadding(base32.NoPadding)

// hotp is RFC 4226's code for a counter, digits long.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// totpStep is the step a moment falls in.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpCode is the 6-digit code of a step.
func totpCode(secret []byte, step int64) string { return hotp(secret, uint64(step), CodeDigits) }

// totpMatch finds the step within one step of now whose code is code and
// which comes after the last step already used; ok is false when there is
// none. Codes are compared in constant time.
func totpMatch(secret []byte, code string, now time.Time, lastUsed int64) (step int64, ok bool) {
	at := totpStep(now)
	for s := at - totpDrift; s <= at+totpDrift; s++ {
		if s > lastUsed && hmac.Equal([]byte(totpCode(secret, s)), []byte(code)) {
			return s, true
		}
	}
	return 0, false
}

// otpauthURI is the key-URI format authenticator apps read from a QR code
// (Google Authenticator's "Key Uri Format"): the issuer and the account
// name label the entry in the app.
func otpauthURI(issuer, account string, secret []byte) string {
	label := url.PathEscape(strings.ReplaceAll(issuer, ":", "")) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", totpKey.EncodeToString(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	return "otpauth://totp/" + label + "?" + q.Encode()
}

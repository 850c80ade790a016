package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Event deliveries are signed as the Standard Webhooks specification
// says (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
// the secret is "whsec_" and the base64 of the key; webhook-signature is
// "v1," and the base64 of HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>");
// webhook-timestamp is the time of the try in Unix seconds, so a retry
// has a new timestamp and signature but the same webhook-id.

// secretKey decodes a "whsec_" secret into its key.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("an event endpoint's secret must be whsec_ and base64")
	}
	return key, nil
}

// SignEvent returns the webhook-signature of one try.
func SignEvent(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// VerifyEvent checks a delivery's headers against its body as a receiver
// would: a signature among the space-separated ones that matches, and a
// timestamp within tolerance of now (the replay window). Receivers in Go
// may use it as it is.
func VerifyEvent(secret, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a Unix time")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook-timestamp is outside the tolerance")
	}
	want, err := SignEvent(secret, id, time.Unix(sec, 0), body)
	if err != nil {
		return err
	}
	for _, sig := range strings.Fields(signatures) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}

package delivery_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/delivery"
)

// FuzzSenderURLs parses random TWOSTEP_EMAIL and TWOSTEP_SMS values: every
// parser must refuse or accept them without panicking, and Open must agree
// with the parser it hands the value to.
func FuzzSenderURLs(f *testing.F) {
	for _, s := range [][2]string{
		{"dev", "dev"},
		{"smtp://user:pass@mail.example.com:587?from=codes@example.com&tls=starttls&auth=login", "twilio://AC123:token@api.twilio.com?from=+15550100"},
		{"smtps://mail.example.com?from=Codes+<codes@example.com>", "webhook+https://sms.example.com/hook?x=1"},
		{"smtp://mail.example.com:0?from=a@b.c", "twilio://:@?from="},
		{"smtp://mail.example.com:99999999999999999999?from=a@b.c", "twilio://AC1:t@h:1?from=+1&scheme=ftp"},
		{"smtp://[::1%25lo]:25?from=a@b.c&tls=none&auth=cram-md5", "webhook+http://127.0.0.1:8080"},
		{"smtp://u@h?from=%00@b.c&auth=%ff", "webhook+https://"},
		{"smtp://h?from==cmd|' /C calc'!A0@evil.com", "webhook+javascript:alert(1)"},
		{"smtp:%zz", "twilio://%41C:%zz@host?from=x"},
		{"smtp://" + strings.Repeat("a", 5000) + "?from=a@b.c", "webhook+https://\u00e4\u00f6\u00fc.test/\x00"},
	} {
		f.Add(s[0], s[1])
	}
	key := []byte("webhook key")
	f.Fuzz(func(t *testing.T, email, sms string) {
		if s, err := delivery.NewSMTP(email); err == nil && s == nil {
			t.Fatalf("NewSMTP(%q) = nil, nil", email)
		}
		if s, err := delivery.NewTwilio(sms); err == nil && s == nil {
			t.Fatalf("NewTwilio(%q) = nil, nil", sms)
		}
		if s, err := delivery.NewWebhook(sms, key); err == nil && s == nil {
			t.Fatalf("NewWebhook(%q) = nil, nil", sms)
		}
		if _, err := delivery.NewWebhook(sms, nil); err == nil {
			t.Fatalf("NewWebhook(%q) accepted no key", sms)
		}
		senders, err := delivery.Open(email, sms, delivery.Options{WebhookKey: key})
		if err == nil {
			if len(senders.ByChannel) != 2 {
				t.Fatalf("Open(%q, %q) gave %d senders", email, sms, len(senders.ByChannel))
			}
		}
		senders.Close()
	})
}

// FuzzWebhookSignature checks random Twostep-Signature headers and bodies:
// VerifySignature never panics, and it accepts only the signature Sign made
// for exactly this body.
func FuzzWebhookSignature(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"id":"msg_1","channel":"sms","to":"+37120000001","text":"Your code is 123456"}`)
	signedAt := time.Unix(1_800_000_000, 0)
	good := delivery.Sign(key, body, signedAt)
	ts, sig, _ := strings.Cut(strings.TrimPrefix(good, "t="), ",v1=")
	now := signedAt.Add(time.Minute)
	const maxAge = 5 * time.Minute
	if !delivery.VerifySignature(key, body, good, now, maxAge) {
		f.Fatalf("the signature %q of the fixed body does not verify", good)
	}

	f.Add(body, good)
	f.Add(body, "v1="+sig+",t="+ts)
	f.Add(body, good+",v0=deadbeef")
	f.Add(body, strings.ToUpper(good))
	f.Add(body, "t=+"+ts+",v1="+sig)
	f.Add(body, "t=0"+ts+",v1="+sig)
	f.Add(append(bytes.Clone(body), ' '), good)
	f.Add(body[:len(body)-1], good)
	f.Add([]byte{}, "t=,v1=")
	f.Add([]byte("\x00\xff"), "t=9223372036854775807,v1=00")
	f.Add(body, "t=-9223372036854775808,v1="+sig)
	f.Add(body, good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte, header string) {
		ok := delivery.VerifySignature(key, b, header, now, maxAge)
		if !ok {
			return
		}
		// Only the fixed body was signed, and only at signedAt: an accepted
		// header must carry exactly that time and signature.
		if !bytes.Equal(b, body) || !hasField(header, "t", ts) || !hasField(header, "v1", sig) {
			t.Fatalf("VerifySignature accepted header %q for body %q", header, b)
		}
	})
}

// hasField reports whether the comma-separated header has key=value.
func hasField(header, key, value string) bool {
	for _, part := range strings.Split(header, ",") {
		if part == key+"="+value {
			return true
		}
	}
	return false
}

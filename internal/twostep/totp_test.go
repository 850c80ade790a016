package twostep

import (
	"strings"
	"testing"
	"time"
)

// TestTOTPRFC6238Vectors checks the HMAC-SHA1 rows of RFC 6238's
// Appendix B: 8-digit codes for the ASCII secret "12345678901234567890";
// the 6-digit code apps show is the last six of them.
func TestTOTPRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		step := totpStep(time.Unix(v.unix, 0))
		if got := hotp(secret, uint64(step), 8); got != v.want {
			t.Errorf("T=%d: got %s, want %s", v.unix, got, v.want)
		}
		if got := totpCode(secret, step); got != v.want[2:] {
			t.Errorf("T=%d: 6 digits got %s, want %s", v.unix, got, v.want[2:])
		}
	}
}

// TestHOTPRFC4226Vectors checks RFC 4226's Appendix D.
func TestHOTPRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp([]byte("12345678901234567890"), uint64(i), 6); got != w {
			t.Errorf("counter %d: got %s, want %s", i, got, w)
		}
	}
}

func TestTOTPMatchDriftAndReuse(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1234567890, 0)
	at := totpStep(now)
	for _, c := range []struct {
		name     string
		step     int64
		lastUsed int64
		ok       bool
	}{
		{"now", at, 0, true},
		{"one step behind", at - 1, 0, true},
		{"one step ahead", at + 1, 0, true},
		{"two steps behind", at - 2, 0, false},
		{"two steps ahead", at + 2, 0, false},
		{"used already", at, at, false},
		{"older than the last used", at - 1, at, false},
		{"after the last used", at + 1, at, true},
	} {
		step, ok := totpMatch(secret, totpCode(secret, c.step), now, c.lastUsed)
		if ok != c.ok || (ok && step != c.step) {
			t.Errorf("%s: got step %d ok %v, want step %d ok %v", c.name, step, ok, c.step, c.ok)
		}
	}
	if _, ok := totpMatch(secret, "000000", now, 0); ok && totpCode(secret, at) != "000000" {
		t.Error("a wrong code matched")
	}
}

func TestOTPAuthURI(t *testing.T) {
	u := otpauthURI("Acme: Ltd", "ann@example.com", []byte("12345678901234567890"))
	for _, want := range []string{"otpauth://totp/Acme%20Ltd:ann@example.com?", "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "issuer=Acme%3A+Ltd", "digits=6", "period=30", "algorithm=SHA1"} {
		if !strings.Contains(u, want) {
			t.Errorf("%s lacks %s", u, want)
		}
	}
}

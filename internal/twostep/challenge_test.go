package twostep

import (
	"bytes"
	"crypto/rand"
	"math"
	mathrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCodesAreUniform draws a million codes and checks, with a chi-square
// test, that every digit is equally likely at every position (SECURITY 1).
func TestCodesAreUniform(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	// A seeded ChaCha8 stream, not crypto/rand: the test is then the same
	// on every run (a fair source fails a 0.001 test 0.6% of the time),
	// and what it checks — that newCode turns uniform bytes into uniform
	// digits at every position — does not depend on which stream it is.
	src := mathrand.NewChaCha8([32]byte{'t', 'w', 'o', 's', 't', 'e', 'p'})
	var counts [CodeDigits][10]int
	for range n {
		code, err := newCode(src)
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != CodeDigits {
			t.Fatalf("code %q is not %d digits", code, CodeDigits)
		}
		for i := range CodeDigits {
			counts[i][code[i]-'0']++
		}
	}
	// 9 degrees of freedom: chi² above 27.88 has probability 0.001 for a
	// fair source.
	const critical = 27.88
	expected := float64(n) / 10
	for pos, digits := range counts {
		chi2 := 0.0
		for _, c := range digits {
			d := float64(c) - expected
			chi2 += d * d / expected
		}
		if chi2 > critical || math.IsNaN(chi2) {
			t.Errorf("position %d: chi² = %.1f over %d codes (counts %v)", pos, chi2, n, digits)
		}
	}
}

func TestCodeKeepsLeadingZeros(t *testing.T) {
	// A source that gives 42 first: the code is 000042, not 42.
	code, err := newCode(bytes.NewReader([]byte{0, 0, 0, 42}))
	if err != nil || code != "000042" {
		t.Fatalf("code %q, %v", code, err)
	}
	// Draws at or above the last multiple of a million are rejected, so
	// that no value is likelier than another: 0xFFFFFFFF is drawn again.
	code, err = newCode(bytes.NewReader([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 7}))
	if err != nil || code != "000007" {
		t.Fatalf("after a rejected draw: %q, %v", code, err)
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"123456": "123456", " 123 456 ": "123456", "123-456": "123456", "#123456": "123456",
		"012345": "012345", "": "", "12345": "", "1234567": "", "12345a": "", "١٢٣٤٥٦": "",
	} {
		got, err := NormalizeCode(in)
		if want == "" {
			if err == nil {
				t.Errorf("NormalizeCode(%q) = %q; want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCodeHashIsBoundToItsChallenge(t *testing.T) {
	key := []byte("k")
	h := codeHash(key, "ch_a", "123456")
	if !codeMatches(key, "ch_a", "123456", h) {
		t.Fatal("the right code does not match")
	}
	if codeMatches(key, "ch_b", "123456", h) || codeMatches(key, "ch_a", "123457", h) ||
		codeMatches([]byte("other"), "ch_a", "123456", h) || codeMatches(key, "ch_a", "123456", "") {
		t.Fatal("a code matched another challenge, code, key or a void hash")
	}
	if strings.Contains(h, "123456") {
		t.Fatal("the hash holds the code")
	}
}

func TestSealer(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.seal(rand.Reader, "123456", "ch_a/1/sms")
	if err != nil || strings.Contains(sealed, "123456") {
		t.Fatalf("sealed %q, %v", sealed, err)
	}
	if code, err := s.open(sealed, "ch_a/1/sms"); err != nil || code != "123456" {
		t.Fatalf("open = %q, %v", code, err)
	}
	if _, err := s.open(sealed, "ch_a/2/sms"); err == nil {
		t.Fatal("a sealed code opened for another message")
	}
	other, _ := newSealer(bytes.Repeat([]byte{2}, 32))
	if _, err := other.open(sealed, "ch_a/1/sms"); err == nil {
		t.Fatal("a sealed code opened with another key")
	}
	if _, err := (sealer{}).seal(rand.Reader, "1", "x"); err == nil {
		t.Fatal("a sealer without a key sealed")
	}
}

func TestMaskDestination(t *testing.T) {
	for in, want := range map[string]string{
		"+37120000012":     "+37*******12",
		"jane@example.com": "j***@example.com",
		"a@b.lv":           "a***@b.lv",
		"":                 "",
	} {
		if got := MaskDestination(in); got != want {
			t.Errorf("MaskDestination(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSlidingWindow(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var hits []time.Time
	for i := range 3 {
		var ok bool
		hits, ok, _ = slide(hits, now.Add(time.Duration(i)*time.Minute), 3, time.Hour)
		if !ok {
			t.Fatalf("hit %d refused", i)
		}
	}
	_, ok, retry := slide(hits, now.Add(10*time.Minute), 3, time.Hour)
	if ok || retry != 50*time.Minute {
		t.Fatalf("4th hit in the hour: ok=%v retry=%v; want refused, retry 50m", ok, retry)
	}
	// An hour after the first hit, one slot is free again: the window
	// slides, it does not reset on the clock hour.
	kept, ok, _ := slide(hits, now.Add(time.Hour), 3, time.Hour)
	if !ok || len(kept) != 3 {
		t.Fatalf("after the first hit left the window: ok=%v kept=%d", ok, len(kept))
	}
}

func TestLockoutThresholds(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := Lockout{}
	var events []string
	for i := 1; i <= MaxFailures; i++ {
		var actions []Action
		l, actions = l.failed(now)
		for _, a := range actions {
			events = append(events, string(a)+"@"+strconv.Itoa(i))
		}
		if i == LockAfter && (!l.Locked(now) || l.Locked(now.Add(LockFor))) {
			t.Fatalf("at %d failures: locked until %v; want %v", i, l.LockedUntil, now.Add(LockFor))
		}
	}
	want := []string{"user.2fa_failed_attempts@3"}
	for i := LockAfter; i <= MaxFailures; i += LockAfter {
		want = append(want, "user.2fa_locked@"+strconv.Itoa(i))
	}
	if !slices.Equal(events, want) {
		t.Fatalf("events %v\nwant %v", events, want)
	}
	if !l.Locked(now.Add(100 * 365 * 24 * time.Hour)) {
		t.Fatalf("after %d failures the lock must last until an admin ends it", MaxFailures)
	}
}

func TestChannels(t *testing.T) {
	anna := User{Email: "anna@example.com", Phone: "+37120000002"}
	noPhone := User{Email: "ben@example.com"}
	noEmail := User{Phone: "+37120000003"}
	sms := Settings{DeliveryMethod: SMSThenEmail, SMSDailyCap: 10}
	email := Settings{DeliveryMethod: EmailOnly, SMSDailyCap: 10}
	smsOff := Settings{DeliveryMethod: SMSThenEmail, SMSDailyCap: 0}
	fresh, failed, smsFailed := Challenge{}, Challenge{Failures: 1}, Challenge{SMSFailed: true}
	for _, tc := range []struct {
		name  string
		s     Settings
		u     User
		ch    Challenge
		first Channel
		avail []Channel
	}{
		{"SMSFirst", sms, anna, fresh, ChannelSMS, []Channel{ChannelSMS}},
		{"EmailAfterAWrongCode", sms, anna, failed, ChannelSMS, []Channel{ChannelSMS, ChannelEmail}},
		{"EmailAfterSMSFailed", sms, anna, smsFailed, ChannelSMS, []Channel{ChannelSMS, ChannelEmail}},
		{"NoPhoneMeansEmail", sms, noPhone, fresh, ChannelEmail, []Channel{ChannelEmail}},
		{"NoEmailNoBackup", sms, noEmail, failed, ChannelSMS, []Channel{ChannelSMS}},
		{"EmailOnlyNeverSMS", email, anna, failed, ChannelEmail, []Channel{ChannelEmail}},
		{"EmailOnlyWithoutEmail", email, noEmail, fresh, "", nil},
		{"CapZeroTurnsSMSOff", smsOff, anna, fresh, ChannelEmail, []Channel{ChannelEmail}},
		{"FixedLineGetsNoSMS", sms, User{Email: "x@example.com", Phone: "+442079460958"}, fresh, ChannelEmail, []Channel{ChannelEmail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPolicy(tc.s, tc.u)
			if got := p.first(); got != tc.first {
				t.Errorf("first channel %q, want %q", got, tc.first)
			}
			if got := p.channels(tc.ch); !slices.Equal(got, tc.avail) {
				t.Errorf("channels %v, want %v", got, tc.avail)
			}
		})
	}
}

func TestPasswordsAreArgon2id(t *testing.T) {
	h, err := hashPassword(rand.Reader, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if !passwordMatches("correct horse battery staple", h) {
		t.Fatal("the right password does not match")
	}
	for _, wrong := range []string{"correct horse battery stapl", "", "Correct horse battery staple"} {
		if passwordMatches(wrong, h) {
			t.Fatalf("%q matched", wrong)
		}
	}
	again, _ := hashPassword(rand.Reader, "correct horse battery staple")
	if again == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA", h[:len(h)-5]} {
		if passwordMatches("x", bad) {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
	for pw, ok := range map[string]bool{"short": false, "password1234": false, "rita likes long walks": true, "xx rita@acme.test yy": false} {
		if err := CheckPassword(pw, "rita@acme.test"); (err == nil) != ok {
			t.Errorf("CheckPassword(%q) = %v", pw, err)
		}
	}
}

func TestSMSCountries(t *testing.T) {
	s := Settings{DeliveryMethod: SMSThenEmail, SMSDailyCap: 10}
	lv := User{Email: "anna@example.com", Phone: "+37120000002"}
	uk := User{Email: "ben@example.com", Phone: "+447911123456"}
	next, changes, err := SettingsPatch{SMSCountries: Some([]string{"lv", " LV", "ee"})}.apply(s)
	if err != nil || !slices.Equal(next.SMSCountries, []string{"EE", "LV"}) || len(changes) != 1 {
		t.Fatalf("%v %v %v", next.SMSCountries, changes, err)
	}
	if newPolicy(next, lv).first() != ChannelSMS || newPolicy(next, uk).first() != ChannelEmail {
		t.Fatal("a number outside the allowed countries got SMS, or one inside did not")
	}
	if newPolicy(s, uk).first() != ChannelSMS {
		t.Fatal("with no list, every country gets SMS")
	}
	if _, _, err := (SettingsPatch{SMSCountries: Some([]string{"XX"})}).apply(s); err == nil {
		t.Fatal("an unknown region was accepted")
	}
}

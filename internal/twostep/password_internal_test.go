package twostep

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDummyHashCostsWhatAHashDoes checks that the constant checked for
// unknown accounts has the parameters hashPassword uses today, so that
// checking it takes as long as checking a real password.
func TestDummyHashCostsWhatAHashDoes(t *testing.T) {
	real, err := hashPassword(strings.NewReader(strings.Repeat("s", 32)), "a password")
	if err != nil {
		t.Fatal(err)
	}
	params := func(phc string) string { return strings.Join(strings.Split(phc, "$")[:4], "$") }
	if params(dummyHash) != params(real) {
		t.Fatalf("dummy hash %s, a real one %s: parameters differ", params(dummyHash), params(real))
	}
	if passwordMatches("no account has this password", dummyHash) != true || passwordMatches("", dummyHash) {
		t.Fatal("the dummy hash does not check like a real one")
	}
}

// TestPasswordRules: NIST SP 800-63B-4 3.1.1.2: at least 8 characters, 64
// and more allowed, any Unicode (normalised), and not on a list of
// 100,000+ common and breached passwords.
func TestPasswordRules(t *testing.T) {
	list, err := commonPasswords()
	if err != nil {
		t.Fatal(err)
	}
	if list.Len() < 100_000 {
		t.Fatalf("the list of common passwords holds %d, want at least 100,000", list.Len())
	}
	for i := 1; i < list.Len(); i++ {
		if list.at(i-1) >= list.at(i) {
			t.Fatalf("the list is not sorted at %d: %q, %q", i, list.at(i-1), list.at(i))
		}
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"tq9!vR2x", true},                            // 8
		{"tq9!vR2", false},                            // 7
		{"password1234", false},                       // on the list
		{"PassWord1234", false},                       // in any case
		{"ｐａｓｓｗｏｒｄ１２３４", false},                       // full-width: the same once normalised
		{"iloveyou2", false},                          // on the list
		{strings.Repeat("horse ", 10) + "okay", true}, // 64
		{strings.Repeat("x7", 128), true},             // 256
		{strings.Repeat("x7", 128) + "!", false},
		{"пароль для меня", true},  // Unicode
		{"密码是一匹马吗", false},         // 7 characters, 21 bytes
		{"密码是一匹马吗？", true},         // 8
		{"rita@acme.test!", false}, // the email
	} {
		err := CheckPassword(tc.pw, "rita@acme.test")
		if (err == nil) != tc.ok {
			t.Errorf("CheckPassword(%q) = %v, want ok %v", tc.pw, err, tc.ok)
		}
	}
}

// TestPasswordsMatchNormalised: a password typed in another Unicode form
// matches; one hashed as typed, before normalising, still matches.
func TestPasswordsMatchNormalised(t *testing.T) {
	h := newPasswordHasher(2, time.Second)
	ctx := context.Background()
	angstrom, aRing := "\u212bngström-paßwort", "\u00c5ngström-paßwort" // U+212B normalises to U+00C5
	phc, err := h.hash(ctx, strings.NewReader(strings.Repeat("s", 32)), angstrom)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{angstrom, aRing} {
		if ok, err := h.matches(ctx, pw, phc); !ok || err != nil {
			t.Errorf("%q does not match: %v", pw, err)
		}
	}
	legacy, _ := hashPassword(strings.NewReader(strings.Repeat("s", 32)), angstrom)
	if ok, _ := h.matches(ctx, angstrom, legacy); !ok {
		t.Error("a hash of the password as typed no longer matches")
	}
	if ok, _ := h.matches(ctx, "angstrom-passwort", phc); ok {
		t.Error("a different password matched")
	}
}

// TestArgon2WaitsThenRefuses: with every turn taken, a check waits its
// while and then answers busy (503), running no hash.
func TestArgon2WaitsThenRefuses(t *testing.T) {
	h := newPasswordHasher(2, 20*time.Millisecond)
	ctx := context.Background()
	var held []func()
	for range 2 {
		done, err := h.turn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, done)
	}
	_, err := h.matches(ctx, "some password", dummyHash)
	if e := AsError(err); e.Code != CodeUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("a check with every turn taken: %v, want unavailable with a retry", err)
	}
	held[0]()
	if ok, err := h.matches(ctx, "some password", dummyHash); err != nil || ok {
		t.Fatalf("with a turn free: %v %v", ok, err)
	}
	held[1]()
}

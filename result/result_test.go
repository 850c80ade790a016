package result_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/result"
)

var approved = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

func claims() result.Claims {
	return result.Claims{Subject: "usr_a", UserID: "usr_a", Audience: "co_a", CompanyID: "co_a", ID: "ch_1", ChallengeID: "ch_1",
		App: "web", Nonce: "abc", Method: "email", AMR: []string{"otp"}, IssuedAt: approved.Unix(), AuthTime: approved.Unix(),
		ExpiresAt: approved.Add(result.TTL).Unix(), Result: "approved", ApprovedAt: approved.Format(time.RFC3339)}
}

var want = result.Expected{Issuer: "https://2fa.example.com", ChallengeID: "ch_1", CompanyID: "co_a", UserID: "usr_a", App: "web", Nonce: "abc"}

// TestCheckResultToken refuses every way a token can be for another
// sign-in, be too old, or not be Twostep's.
func TestCheckResultToken(t *testing.T) {
	signer := result.NewSigner(make([]byte, 32), "https://2fa.example.com/")
	keys := signer.JWKS()
	good := signer.Sign(claims())
	if good != signer.Sign(claims()) {
		t.Fatal("signing the same claims twice gave two tokens")
	}
	at := approved.Add(time.Minute)
	if c, err := result.CheckResultToken(good, keys, want, at); err != nil || c.Issuer != "https://2fa.example.com" {
		t.Fatalf("a good token: %+v %v", c, err)
	}
	other := result.NewSigner([]byte(strings.Repeat("k", 32)), "https://2fa.example.com")
	for _, tc := range []struct {
		name  string
		token string
		want  result.Expected
		at    time.Time
		err   error
	}{
		{"OtherChallenge", good, with(func(e *result.Expected) { e.ChallengeID = "ch_2" }), at, result.ErrMismatch},
		{"OtherCompany", good, with(func(e *result.Expected) { e.CompanyID = "co_b" }), at, result.ErrMismatch},
		{"OtherUser", good, with(func(e *result.Expected) { e.UserID = "usr_b" }), at, result.ErrMismatch},
		{"OtherApp", good, with(func(e *result.Expected) { e.App = "manager" }), at, result.ErrMismatch},
		{"OtherNonce", good, with(func(e *result.Expected) { e.Nonce = "abd" }), at, result.ErrMismatch},
		{"NoNonceExpected", good, with(func(e *result.Expected) { e.Nonce = "" }), at, result.ErrMismatch},
		{"OtherIssuer", good, with(func(e *result.Expected) { e.Issuer = "https://evil.example.com" }), at, result.ErrMismatch},
		{"Expired", good, want, approved.Add(result.TTL), result.ErrExpired},
		{"NotYetIssued", good, want, approved.Add(-2 * time.Minute), result.ErrExpired},
		{"OtherKey", other.Sign(claims()), want, at, result.ErrSignature},
		{"Tampered", tamper(good), want, at, result.ErrSignature},
		{"AudienceSwapped", signer.Sign(change(func(c *result.Claims) { c.Audience = "co_b" })), want, at, result.ErrMismatch},
		{"NotApproved", signer.Sign(change(func(c *result.Claims) { c.Result = "rejected" })), want, at, result.ErrMismatch},
		{"JTIOfAnother", signer.Sign(change(func(c *result.Claims) { c.ID = "ch_9" })), want, at, result.ErrMismatch},
		{"Garbage", "a.b", want, at, result.ErrMalformed},
		{"NoneAlg", "eyJhbGciOiJub25lIn0." + strings.Split(good, ".")[1] + ".", want, at, result.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := result.CheckResultToken(tc.token, keys, tc.want, tc.at)
			if !errors.Is(err, tc.err) {
				t.Fatalf("%v, want %v", err, tc.err)
			}
		})
	}
	if _, err := result.CheckResultToken(good, keys, result.Expected{Issuer: "https://2fa.example.com"}, at); err == nil ||
		!strings.Contains(err.Error(), "ChallengeID") {
		t.Fatalf("an Expected without the challenge: %v", err)
	}
}

func TestParseJWKS(t *testing.T) {
	keys, err := result.ParseJWKS([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k1","alg":"EdDSA","use":"sig"}]}`))
	if err != nil || len(keys) != 1 || keys[0].Kid != "k1" {
		t.Fatalf("%+v %v", keys, err)
	}
	for _, bad := range []string{`{"keys":[]}`, `[]`, `not json`} {
		if _, err := result.ParseJWKS([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func with(f func(*result.Expected)) result.Expected {
	e := want
	f(&e)
	return e
}

func change(f func(*result.Claims)) result.Claims {
	c := claims()
	f(&c)
	return c
}

// tamper flips a character of the claims, keeping the signature.
func tamper(token string) string {
	p := strings.Split(token, ".")
	b := []byte(p[1])
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return p[0] + "." + string(b) + "." + p[2]
}

// Package result checks the signed result that Twostep's hosted
// verification page hands back to a platform, and makes such results.
//
// After the second step, the hosted page sends the browser to the
// platform's return_url with twostep_result=<token>: a compact JWS (RFC
// 7515) signed with Ed25519 (alg EdDSA, RFC 8037) whose claims say which
// sign-in was approved, for whom, how and when. A platform checks it with
// CheckResultToken against the keys Twostep publishes at
// /.well-known/jwks.json and against what it expects: the challenge it
// started for this browser, the company, the user, the app and the nonce
// it gave. A token that differs in any of them is refused, so a result
// of one sign-in never passes for another. The platform then accepts
// each token's jti once.
package result

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TTL is how long a result is valid after its sign-in was approved: long
// enough for one redirect.
const TTL = 5 * time.Minute

// Claims are what a result says.
type Claims struct {
	Issuer      string `json:"iss"` // Twostep's public URL
	Subject     string `json:"sub"` // the user, as user_id
	Audience    string `json:"aud"` // the company, as company_id
	IssuedAt    int64  `json:"iat"` // the approval, Unix seconds
	ExpiresAt   int64  `json:"exp"` // IssuedAt + TTL
	ID          string `json:"jti"` // the challenge: accept each once
	ChallengeID string `json:"challenge_id"`
	CompanyID   string `json:"company_id"`
	UserID      string `json:"user_id"`
	ExternalID  string `json:"external_id,omitempty"` // the platform's own id for the user
	App         string `json:"app"`                   // web or manager
	// Nonce is the nonce the platform gave when it created the challenge.
	Nonce string `json:"nonce,omitempty"`
	// Method is how the user passed: sms or email (a code sent there).
	Method string `json:"method"`
	// AMR lists the authentication methods as RFC 8176 names them: otp for
	// a one-time code, and sms when it came by SMS.
	AMR []string `json:"amr"`
	// AuthTime is when the user passed the second step, Unix seconds.
	AuthTime   int64  `json:"auth_time"`
	Result     string `json:"result"`      // approved
	ApprovedAt string `json:"approved_at"` // AuthTime as RFC 3339
}

// JWK is one public key in JWK form (RFC 8037), as /.well-known/jwks.json
// lists them.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// ParseJWKS reads the keys of a JWK Set: the body of
// /.well-known/jwks.json.
func ParseJWKS(data []byte) ([]JWK, error) {
	var set struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("result: the JWK Set does not decode: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("result: the JWK Set holds no keys")
	}
	return set.Keys, nil
}

// Expected is what the platform knows about the sign-in it is finishing.
// Every field but Nonce is required; Nonce is "" when the challenge was
// created without one.
type Expected struct {
	Issuer      string // Twostep's public URL (TWOSTEP_PUBLIC_URL)
	ChallengeID string // the id of the challenge started for this browser
	CompanyID   string
	UserID      string
	App         string // web or manager
	Nonce       string
}

// Errors CheckResultToken returns, wrapped with the detail.
var (
	// ErrMalformed: the token is not a compact EdDSA JWS with claims.
	ErrMalformed = errors.New("result: malformed token")
	// ErrSignature: no key has the token's kid, or the signature does
	// not match.
	ErrSignature = errors.New("result: signature not valid")
	// ErrExpired: the token's time is over (or has not begun).
	ErrExpired = errors.New("result: token expired")
	// ErrMismatch: the token is valid but for another sign-in than the
	// one expected.
	ErrMismatch = errors.New("result: token is for another sign-in")
)

// clockSkew is how far ahead of the checker's clock a token's iat may
// be: the servers' clocks differ a little.
const clockSkew = time.Minute

var b64 = base64.RawURLEncoding

// CheckResultToken checks a result token: its signature against keys,
// its time against now, and each claim against want. It returns the
// claims of a token that passes every check.
func CheckResultToken(token string, keys []JWK, want Expected, now time.Time) (Claims, error) {
	var c Claims
	if err := want.complete(); err != nil {
		return c, err
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("%w: not three parts", ErrMalformed)
	}
	var header struct{ Alg, Kid, Typ string }
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "EdDSA" {
		return c, fmt.Errorf("%w: the header is not EdDSA", ErrMalformed)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return c, fmt.Errorf("%w: the signature does not decode", ErrMalformed)
	}
	key, ok := findKey(keys, header.Kid)
	if !ok {
		return c, fmt.Errorf("%w: no key has kid %q", ErrSignature, header.Kid)
	}
	if !ed25519.Verify(key, []byte(parts[0]+"."+parts[1]), sig) {
		return c, fmt.Errorf("%w: the signature does not match", ErrSignature)
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(cb, &c) != nil {
		return Claims{}, fmt.Errorf("%w: the claims do not decode", ErrMalformed)
	}
	if now.Unix() >= c.ExpiresAt || time.Unix(c.IssuedAt, 0).After(now.Add(clockSkew)) {
		return Claims{}, fmt.Errorf("%w: valid from %s until %s", ErrExpired,
			time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339), time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	for _, f := range []struct{ claim, got, want string }{
		{"iss", strings.TrimRight(c.Issuer, "/"), strings.TrimRight(want.Issuer, "/")},
		{"aud", c.Audience, want.CompanyID},
		{"company_id", c.CompanyID, want.CompanyID},
		{"sub", c.Subject, want.UserID},
		{"user_id", c.UserID, want.UserID},
		{"challenge_id", c.ChallengeID, want.ChallengeID},
		{"jti", c.ID, want.ChallengeID},
		{"app", c.App, want.App},
		{"nonce", c.Nonce, want.Nonce},
		{"result", c.Result, "approved"},
	} {
		if subtle.ConstantTimeCompare([]byte(f.got), []byte(f.want)) != 1 {
			return Claims{}, fmt.Errorf("%w: %s is %q, expected %q", ErrMismatch, f.claim, f.got, f.want)
		}
	}
	return c, nil
}

// complete refuses an Expected that leaves out what must be checked.
func (w Expected) complete() error {
	for _, f := range []struct{ name, v string }{
		{"Issuer", w.Issuer}, {"ChallengeID", w.ChallengeID}, {"CompanyID", w.CompanyID}, {"UserID", w.UserID}, {"App", w.App},
	} {
		if f.v == "" {
			return fmt.Errorf("result: Expected.%s is empty; say what the token must be for", f.name)
		}
	}
	return nil
}

// findKey returns the Ed25519 key with kid.
func findKey(keys []JWK, kid string) (ed25519.PublicKey, bool) {
	for _, k := range keys {
		x, err := b64.DecodeString(k.X)
		if k.Kid == kid && k.Kty == "OKP" && k.Crv == "Ed25519" && err == nil && len(x) == ed25519.PublicKeySize {
			return ed25519.PublicKey(x), true
		}
	}
	return nil, false
}

// Signer makes result tokens: Twostep signs with one, and a platform's
// tests can sign with their own to exercise their checks.
type Signer struct {
	key    ed25519.PrivateKey
	kid    string
	issuer string
}

// NewSigner makes a signer from a 32-byte Ed25519 seed, for the issuer
// (Twostep's public URL).
func NewSigner(seed []byte, issuer string) *Signer {
	key := ed25519.NewKeyFromSeed(seed)
	return &Signer{key: key, kid: thumbprint(key.Public().(ed25519.PublicKey)), issuer: strings.TrimRight(issuer, "/")}
}

// Issuer is the iss the signer puts in its tokens.
func (s *Signer) Issuer() string { return s.issuer }

// Sign returns the compact JWS of c, with the signer as its issuer.
// Ed25519 signatures are deterministic: the same claims give the same
// token every time.
func (s *Signer) Sign(c Claims) string {
	c.Issuer = s.issuer
	header, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": s.kid})
	claims, _ := json.Marshal(c)
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	return signing + "." + b64.EncodeToString(ed25519.Sign(s.key, []byte(signing)))
}

// JWKS returns the public keys that check the signer's tokens.
func (s *Signer) JWKS() []JWK {
	pub := s.key.Public().(ed25519.PublicKey)
	return []JWK{{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: s.kid, Alg: "EdDSA", Use: "sig"}}
}

// thumbprint is the key's RFC 7638 thumbprint, used as its kid.
func thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(sum[:])
}

package twostep

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ResultSigner signs the result of an approved challenge as a compact JWS
// (EdDSA, Ed25519), which the hosted page hands to the platform on its
// return URL. The platform checks it offline against the public keys at
// /.well-known/jwks.json.
type ResultSigner struct {
	key    ed25519.PrivateKey
	kid    string
	issuer string
}

// ResultTTL is how long a signed result is valid: long enough for one
// redirect.
const ResultTTL = 5 * time.Minute

// NewResultSigner makes a signer from a 32-byte seed (from the secret file).
func NewResultSigner(seed []byte, issuer string) *ResultSigner {
	key := ed25519.NewKeyFromSeed(seed)
	return &ResultSigner{key: key, kid: thumbprint(key.Public().(ed25519.PublicKey)), issuer: issuer}
}

// ResultClaims are what a signed result says.
type ResultClaims struct {
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"` // the user
	Audience    string `json:"aud"` // the company
	IssuedAt    int64  `json:"iat"`
	ExpiresAt   int64  `json:"exp"`
	ID          string `json:"jti"` // the challenge: use each once
	ChallengeID string `json:"challenge_id"`
	CompanyID   string `json:"company_id"`
	UserID      string `json:"user_id"`
	ExternalID  string `json:"external_id,omitempty"`
	App         App    `json:"app"`
	Result      string `json:"result"`
	ApprovedAt  string `json:"approved_at"`
}

var b64 = base64.RawURLEncoding

// Sign returns the compact JWS of an approved challenge.
func (s *ResultSigner) Sign(v ChallengeView, externalID string, now time.Time) string {
	header, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": s.kid})
	claims, _ := json.Marshal(ResultClaims{
		Issuer: s.issuer, Subject: v.UserID, Audience: v.CompanyID, IssuedAt: now.Unix(),
		ExpiresAt: now.Add(ResultTTL).Unix(), ID: v.ID, ChallengeID: v.ID, CompanyID: v.CompanyID,
		UserID: v.UserID, ExternalID: externalID, App: v.App, Result: string(ResultApproved),
		ApprovedAt: v.ApprovedAt.UTC().Format(time.RFC3339),
	})
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	return signing + "." + b64.EncodeToString(ed25519.Sign(s.key, []byte(signing)))
}

// JWK is one public key in JWKS form (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the public keys that check signed results.
func (s *ResultSigner) JWKS() []JWK {
	pub := s.key.Public().(ed25519.PublicKey)
	return []JWK{{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: s.kid, Alg: "EdDSA", Use: "sig"}}
}

// thumbprint is the key's RFC 7638 thumbprint, used as its kid.
func thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(sum[:])
}

// CheckResultToken checks a signed result against a JWKS and the time, and
// returns its claims: what a platform does with the token, shown in Go.
func CheckResultToken(token string, keys []JWK, now time.Time) (ResultClaims, error) {
	var c ResultClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errors.New("not a compact JWS")
	}
	var header struct{ Alg, Kid string }
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "EdDSA" {
		return c, errors.New("the header is not EdDSA")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return c, errors.New("the signature does not decode")
	}
	for _, k := range keys {
		x, err := b64.DecodeString(k.X)
		if k.Kid != header.Kid || k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		if !ed25519.Verify(ed25519.PublicKey(x), []byte(parts[0]+"."+parts[1]), sig) {
			return c, errors.New("the signature does not match")
		}
		cb, err := b64.DecodeString(parts[1])
		if err != nil || json.Unmarshal(cb, &c) != nil {
			return c, errors.New("the claims do not decode")
		}
		if now.Unix() >= c.ExpiresAt {
			return c, errors.New("the result has expired")
		}
		return c, nil
	}
	return c, errors.New("no key has this kid")
}

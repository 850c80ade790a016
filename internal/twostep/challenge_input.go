package twostep

import (
	"net/netip"
	"net/url"
	"slices"
)

// NewChallenge is the input for starting a sign-in's second step.
type NewChallenge struct {
	App       string `json:"app"`
	IP        string `json:"ip"`         // the signing-in person's address, for the per-IP limit
	UserAgent string `json:"user_agent"` // their browser, for the audit log
	ReturnURL string `json:"return_url"` // where the hosted page returns to
	// Nonce is the platform's value for this sign-in (1–128 printable
	// ASCII characters), echoed in the signed result so that the platform
	// can tell its own sign-in's result from any other.
	Nonce string `json:"nonce"`
	// DeviceToken is a remembered device's token, from the platform's
	// cookie: while it is good, the sign-in skips the second step.
	DeviceToken string `json:"device_token"`
}

// maxNonceLen bounds a challenge's nonce.
const maxNonceLen = 128

// checkNonce accepts an optional nonce of printable ASCII.
func checkNonce(n string) (string, error) {
	if n == "" {
		return "", nil
	}
	if len(n) > maxNonceLen {
		return "", Invalid("nonce", "nonce must be at most %d characters", maxNonceLen)
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x20 || n[i] > 0x7e {
			return "", Invalid("nonce", "nonce must be printable ASCII characters")
		}
	}
	return n, nil
}

// checkReturnURL accepts a return URL whose origin the company or the
// operator allows.
func (s *core) checkReturnURL(raw string, settings Settings) (string, error) {
	if raw == "" {
		return "", nil
	}
	bad := Invalid("return_url", "return_url must be an absolute URL on an origin in allowed_return_origins")
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.User != nil || u.Host == "" {
		return "", bad
	}
	origin, err := NormalizeOrigin("return_url", u.Scheme+"://"+u.Host)
	if err != nil {
		return "", bad
	}
	if !slices.Contains(settings.AllowedReturnOrigins, origin) && !slices.Contains(s.returnOrigins, origin) {
		return "", bad
	}
	return u.String(), nil
}

// policy is what decides a user's channels: the company's policy and the
// user's addresses, within what the operator runs (no SMS provider).
func (s *core) policy(co Company, u User) policy {
	p := newPolicy(co.Settings, u)
	if s.noSMS {
		p.smsOff = true
	}
	return p
}

// normalizeIP checks an optional IP address.
func normalizeIP(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", Invalid("ip", "ip must be an IPv4 or IPv6 address")
	}
	return a.Unmap().String(), nil
}

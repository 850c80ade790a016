package twostep

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/twostep/twostep/result"
)

// errPageInvalid answers a hosted page token that is not a challenge's.
var errPageInvalid = &Error{Code: CodeNotFound, Message: "This sign-in link is not valid. Go back and sign in again."}

// Page is the hosted verification page's view of a challenge.
type Page struct {
	Challenge ChallengeView
	Company   Company
	// Result is the signed result to hand to the return URL, once approved.
	Result string
}

// pageCaller opens the challenge of a hosted page's token: the token is the
// page's only credential, so it acts for the challenge's company alone.
func (s *SignIns) pageCaller(ctx context.Context, token, ip, userAgent string) (string, Caller, error) {
	var ch Challenge
	err := s.view(ctx, func(tx Tx) error {
		var err error
		ch, err = tx.ChallengeByVerifyToken(ctx, tokenHash(token))
		if errors.Is(err, ErrNotFound) {
			return errPageInvalid
		}
		return err
	})
	return ch.ID, Caller{Scope: ch.CompanyID, IP: ip, UserAgent: userAgent}, err
}

// PageChallenge reads the hosted page's challenge.
func (s *SignIns) PageChallenge(ctx context.Context, token string) (Page, error) {
	id, c, err := s.pageCaller(ctx, token, "", "")
	if err != nil {
		return Page{}, err
	}
	return s.page(ctx, c, id)
}

// page reads the challenge with its company, and signs the result of an
// approved one.
func (s *SignIns) page(ctx context.Context, c Caller, id string) (Page, error) {
	var p Page
	err := s.view(ctx, func(tx Tx) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		if p.Challenge, err = s.present(ctx, tx, cc); err != nil {
			return err
		}
		p.Company = cc.co
		if p.Challenge.Status == StatusApproved && s.signer != nil && cc.now.Before(cc.ch.ApprovedAt.Add(result.TTL)) {
			p.Result = s.signer.Sign(resultClaims(cc.ch, cc.u))
		}
		return nil
	})
	return p, err
}

// PageVerify checks a code typed on the hosted page.
func (s *SignIns) PageVerify(ctx context.Context, token string, proof Proof, ip, userAgent string) (Page, VerifyResult, error) {
	id, c, err := s.pageCaller(ctx, token, ip, userAgent)
	if err != nil {
		return Page{}, "", err
	}
	_, result, verr := s.Verify(ctx, c, id, proof)
	p, err := s.page(ctx, c, id)
	if verr != nil {
		return p, "", verr
	}
	return p, result, err
}

// PageResend sends a new code from the hosted page.
func (s *SignIns) PageResend(ctx context.Context, token string, channel Channel, ip, userAgent string) (Page, error) {
	id, c, err := s.pageCaller(ctx, token, ip, userAgent)
	if err != nil {
		return Page{}, err
	}
	_, rerr := s.Resend(ctx, c, id, channel)
	p, err := s.page(ctx, c, id)
	if rerr != nil {
		return p, rerr
	}
	return p, err
}

// ResultURL is the return URL with the signed result added as the query
// parameter twostep_result.
func ResultURL(returnURL, token string) string {
	u, err := url.Parse(returnURL)
	if err != nil {
		return returnURL
	}
	q := u.Query()
	q.Set("twostep_result", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// JWKS returns the public keys of signed results.
func (s *SignIns) JWKS() []result.JWK {
	if s.signer == nil {
		return []result.JWK{}
	}
	return s.signer.JWKS()
}

// resultClaims are what the signed result of an approved challenge says.
// They are fixed at the approval, the token's iat, and Ed25519 signs
// deterministically: however often the page is read, it hands out the
// one token, valid for result.TTL from the approval.
func resultClaims(ch Challenge, u User) result.Claims {
	at := ch.ApprovedAt.UTC()
	method := string(ch.expects())
	amr := []string{"otp"} // RFC 8176: a one-time code, whichever the method...
	switch Method(method) {
	case MethodSMS:
		amr = append(amr, "sms") // ...and one that came by SMS
	case MethodWebAuthn:
		amr = []string{"pop", "user"} // a key held, with the user verified
	}
	return result.Claims{Subject: ch.UserID, Audience: ch.CompanyID, IssuedAt: at.Unix(),
		ExpiresAt: at.Add(result.TTL).Unix(), ID: ch.ID, ChallengeID: ch.ID, CompanyID: ch.CompanyID,
		UserID: ch.UserID, ExternalID: u.ExternalID, App: string(ch.App), Nonce: ch.Nonce, Method: method,
		AMR: amr, AuthTime: at.Unix(), Result: string(ResultApproved), ApprovedAt: at.Format(time.RFC3339)}
}

// Stats returns a company's daily sign-in activity for the last days days,
// oldest first, with a zero entry for days without any.
func (s *SignIns) Stats(ctx context.Context, c Caller, companyID string, days int) ([]DayStats, error) {
	var out []DayStats
	err := s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		out, err = statsIn(ctx, tx, companyID, days, now)
		return err
	})
	return out, err
}

// statsIn reads the last days days of a company's activity up to now, in tx.
func statsIn(ctx context.Context, tx Tx, companyID string, days int, now time.Time) ([]DayStats, error) {
	from := now.AddDate(0, 0, -(days - 1))
	got, err := tx.Stats(ctx, companyID, statsDay(from), statsDay(now))
	if err != nil {
		return nil, err
	}
	byDay := map[string]DayStats{}
	for _, d := range got {
		byDay[d.Day] = d
	}
	var out []DayStats
	for d := from; !d.After(now); d = d.Add(24 * time.Hour) {
		day := statsDay(d)
		st, ok := byDay[day]
		if !ok {
			st = DayStats{Day: day}
		}
		out = append(out, st)
	}
	return out, nil
}

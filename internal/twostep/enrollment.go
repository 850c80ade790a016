package twostep

import (
	"context"
	"time"
)

// Enrollment is a hosted enrolment page's link: for one user, to add an
// authenticator app and get recovery codes, then go back to ReturnURL.
// ChallengeID names the sign-in whose page sent the user there, if one
// did. Only the token's hash is kept.
type Enrollment struct {
	TokenHash   string
	CompanyID   string
	UserID      string
	ChallengeID string
	ReturnURL   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time // when it was finished; zero while it works
}

// EnrollmentLifetime is how long an enrolment link works.
const EnrollmentLifetime = 30 * time.Minute

// EnrollmentStore keeps enrolment links.
type EnrollmentStore interface {
	// CreateEnrollment returns ErrConflict for a second link of one
	// sign-in.
	CreateEnrollment(ctx context.Context, e Enrollment) error
	// Enrollment finds a link by its token's hash.
	Enrollment(ctx context.Context, tokenHash string) (Enrollment, error)
	// UseEnrollment marks a link finished, once; ErrNotFound when it is
	// finished already.
	UseEnrollment(ctx context.Context, tokenHash string, at time.Time) error
}

// StartEnrollment makes an enrolment link for a user, to the hosted page
// where they add an authenticator app and get recovery codes, then go
// back to returnURL (on an allowed origin). It returns the link's token,
// shown only now.
func (s *Enrolment) StartEnrollment(ctx context.Context, c Caller, companyID, userID, returnURL string) (string, Enrollment, error) {
	var e Enrollment
	token, err := s.newToken()
	if err != nil {
		return "", e, Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error {
		co, _, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		if _, err := s.user(ctx, tx, companyID, userID, false); err != nil {
			return err
		}
		if returnURL == "" {
			return Invalid("return_url", "return_url is required: where the enrolment page sends the user when they are done")
		}
		if returnURL, err = s.checkReturnURL(returnURL, co.Settings); err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		e = Enrollment{TokenHash: tokenHash(token), CompanyID: companyID, UserID: userID, ReturnURL: returnURL,
			CreatedAt: now, ExpiresAt: now.Add(EnrollmentLifetime)}
		return tx.CreateEnrollment(ctx, e)
	})
	return token, e, err
}

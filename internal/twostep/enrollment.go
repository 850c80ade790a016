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
}

// EnrollmentLifetime is how long an enrolment link works.
const EnrollmentLifetime = 30 * time.Minute

// EnrollmentStore keeps enrolment links.
type EnrollmentStore interface {
	CreateEnrollment(ctx context.Context, e Enrollment) error
	// Enrollment finds a link by its token's hash.
	Enrollment(ctx context.Context, tokenHash string) (Enrollment, error)
	DeleteEnrollment(ctx context.Context, tokenHash string) error
}

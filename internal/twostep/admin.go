package twostep

import (
	"context"
	"time"
)

// AdminAccount is a company admin's sign-in to the console: a user of the
// company with an email and a password.
type AdminAccount struct {
	UserID       string
	CompanyID    string
	Email        string // lower case
	PasswordHash string // argon2id; "" until the set-up link is used
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SessionStage says how far a console sign-in has got.
type SessionStage string

// The stages. A pending session has passed the password and waits for the
// code; it opens nothing but the code page.
const (
	StagePending SessionStage = "pending"
	StageFull    SessionStage = "full"
)

// Session is a console session, kept in the database so that every
// instance shares it. Only a hash of its token is stored.
type Session struct {
	TokenHash   string
	UserID      string
	CompanyID   string
	Stage       SessionStage
	ChallengeID string // the second step of a pending session
	CreatedAt   time.Time
	SeenAt      time.Time
	ExpiresAt   time.Time // the absolute end
	IP          string    // where it signed in from
	UserAgent   string
}

// Console timings.
const (
	SetupLinkTTL    = 72 * time.Hour
	PendingTTL      = 10 * time.Minute // from password to code
	SessionIdle     = 30 * time.Minute // without a request
	SessionAbsolute = 12 * time.Hour   // however active
	sessionTouch    = time.Minute      // how stale seen_at may be before it is written
)

// Sign-in limits: failed password tries per email from one client IP,
// and per client IP, in a window. Right passwords do not count.
const (
	SignInFailuresPerEmailIP = 10
	SignInFailuresPerIP      = 50
	signInWindow             = 15 * time.Minute
)

// AdminStore keeps console accounts, set-up links and sessions.
type AdminStore interface {
	// SaveAdminAccount creates or replaces the account of a user; it
	// returns ErrConflict when another user has the email.
	SaveAdminAccount(ctx context.Context, a AdminAccount) error
	AdminByEmail(ctx context.Context, email string) (AdminAccount, error)
	AdminByUser(ctx context.Context, userID string) (AdminAccount, error)
	// AdminAccounts lists a company's accounts by email.
	AdminAccounts(ctx context.Context, companyID string) ([]AdminAccount, error)
	// DeleteAdminAccount deletes a user's account; ErrNotFound if none.
	DeleteAdminAccount(ctx context.Context, userID string) error
	CreateSetupLink(ctx context.Context, tokenHash, userID string, expires time.Time) error
	// UseSetupLink marks an unused, unexpired link used and returns its
	// user; ErrNotFound otherwise. One statement decides it, so a link
	// works once.
	UseSetupLink(ctx context.Context, tokenHash string, now time.Time) (string, error)
	// DeleteSetupLinks deletes every set-up link of a user.
	DeleteSetupLinks(ctx context.Context, userID string) error
	// SetupLinkUser returns the user of a link that is still usable.
	SetupLinkUser(ctx context.Context, tokenHash string, now time.Time) (string, error)
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, tokenHash string) (Session, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	// UserSessions lists a user's signed-in (full) sessions, latest first.
	UserSessions(ctx context.Context, userID string) ([]Session, error)
	UserByEmail(ctx context.Context, companyID, email string) (User, error)
}

// DayStats are one day's sign-in activity of a company.
type DayStats struct {
	Day      string // YYYY-MM-DD, UTC
	Sent     int
	Approved int
	Failed   int
	Locked   int
}

// StatsStore keeps daily activity counts.
type StatsStore interface {
	// AddStats adds d's counts to its company's day.
	AddStats(ctx context.Context, companyID string, d DayStats) error
	// Stats returns the days from..to (inclusive) that have counts.
	Stats(ctx context.Context, companyID, from, to string) ([]DayStats, error)
}

// statsDay is the UTC day a time counts for.
func statsDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

package twostep

import (
	"context"
	"time"
)

// AuthenticatorType is a kind of authenticator a user adds to their
// account, stronger than a code sent to their phone or email.
type AuthenticatorType string

// The authenticator types. Passkeys (webauthn) come with the next step
// on the same seam; the policy names them already.
const (
	AuthenticatorTOTP     AuthenticatorType = "totp"
	AuthenticatorWebAuthn AuthenticatorType = "webauthn"
)

// Authenticator is one authenticator of a user: for an authenticator app,
// its TOTP secret, sealed with the server key. It counts only once
// confirmed by a first right code; an unconfirmed one is gone after
// UnconfirmedLifetime.
type Authenticator struct {
	ID           string
	CompanyID    string
	UserID       string
	Type         AuthenticatorType
	Name         string
	SealedSecret string
	ConfirmedAt  time.Time // zero until confirmed
	CreatedAt    time.Time
	LastUsedAt   time.Time
	// LastStep is the TOTP step of the last code accepted: only later
	// steps' codes are taken.
	LastStep int64
	// A passkey's credential id (base64url) and the credential (public
	// key, sign counter, flags) as JSON.
	CredentialID string
	Credential   string
}

// Confirmed reports whether a first right code has proved the authenticator.
func (a Authenticator) Confirmed() bool { return !a.ConfirmedAt.IsZero() }

// UnconfirmedLifetime is how long an authenticator app waits for its
// confirming code.
const UnconfirmedLifetime = 15 * time.Minute

// sealBinding ties a sealed secret to its authenticator: a sealed value
// copied onto another row does not open.
func (a Authenticator) sealBinding() string { return "authenticator:" + a.ID + ":" + a.UserID }

// Factors sums up what a user can prove beyond a sent code.
type Factors struct {
	TOTP          int // confirmed authenticator apps
	WebAuthn      int // confirmed passkeys
	RecoveryCodes int // unused recovery codes
}

// AuthenticatorStore keeps users' authenticators and recovery codes. Every
// method is scoped by company.
type AuthenticatorStore interface {
	CreateAuthenticator(ctx context.Context, a Authenticator) error
	// Authenticators lists a user's authenticators, oldest first.
	Authenticators(ctx context.Context, companyID, userID string) ([]Authenticator, error)
	Authenticator(ctx context.Context, companyID, userID, id string) (Authenticator, error)
	// UseAuthenticator records a code of step as used: confirming the
	// authenticator if it is not yet, only while the stored last step is
	// before step. Otherwise it returns ErrConflict and changes nothing, so
	// that one code is accepted once, whichever instance sees it first.
	UseAuthenticator(ctx context.Context, id string, step int64, at time.Time) error
	DeleteAuthenticator(ctx context.Context, companyID, userID, id string) error
	// ReplaceRecoveryCodes makes hashes the user's only recovery codes.
	ReplaceRecoveryCodes(ctx context.Context, companyID, userID string, hashes []string, at time.Time) error
	// UseRecoveryCode marks an unused code used; ErrNotFound when the user
	// has no unused code with that hash.
	UseRecoveryCode(ctx context.Context, companyID, userID, hash string, at time.Time) error
	// Factors counts what the user can prove beyond a sent code, in one
	// read.
	Factors(ctx context.Context, companyID, userID string) (Factors, error)
	// UseCredential stores a passkey's credential after a sign-in with it
	// (its new sign counter), only while the stored credential is prev:
	// ErrConflict otherwise.
	UseCredential(ctx context.Context, id, prev, next string, at time.Time) error
	// PutCeremony keeps a WebAuthn ceremony's state until it is taken or
	// expires; TakeCeremony returns and deletes it, once (ErrNotFound
	// after).
	PutCeremony(ctx context.Context, id, data string, expiresAt time.Time) error
	TakeCeremony(ctx context.Context, id string, now time.Time) (string, error)
	// RefreshFactors sets the user's HasFactors hint from what they have
	// now. Callers hold the user row (UserForUpdate) first, so that two
	// changes to one user's authenticators cannot leave it false.
	RefreshFactors(ctx context.Context, companyID, userID string) error
}

package twostep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// errSignInFailed answers every failed password step alike: an unknown
// email, a wrong password, an account not set up and a locked one.
var errSignInFailed = &Error{Code: CodeUnauthorized, Message: "The email address or password is not correct"}

// errLinkInvalid answers a set-up link that cannot be used.
var errLinkInvalid = &Error{Code: CodeNotFound, Message: "This set-up link has expired or has been used. Ask for a new one."}

// errSessionInvalid answers a missing, expired or unknown session.
var errSessionInvalid = &Error{Code: CodeUnauthorized, Message: "Your session has ended. Sign in again."}

// tokenHash is how tokens (set-up links, sessions, hosted pages) are kept:
// a SHA-256, enough for 256 random bits.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newToken returns 256 random bits, base64url.
func (s *core) newToken() (string, error) {
	return randomToken(s.rand, "", 32)
}

// CreateAdmin makes the user with email an admin of the company — creating
// the user when there is none — and returns a one-time set-up link token
// with which they choose a password. Used again, it issues a new link and
// the earlier ones stop working.
func (s *Accounts) CreateAdmin(ctx context.Context, companyID, email string) (User, string, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil || email == "" {
		return User{}, "", Invalid("email", "email must be an email address like name@example.com")
	}
	token, err := s.newToken()
	if err != nil {
		return User{}, "", Internal(err)
	}
	var u User
	err = s.update(ctx, func(tx Tx) error {
		co, _, err := s.company(ctx, tx, Caller{}, companyID, false)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		u, err = s.makeAdmin(ctx, tx, Caller{}, systemActor, co, email, tokenHash(token), now.Add(SetupLinkTTL), now)
		return err
	})
	return u, token, err
}

// makeAdmin makes the user with email an admin of co (creating the user
// when there is none, audited as actor's doing) with a new set-up link,
// which replaces any earlier one.
func (s *Accounts) makeAdmin(ctx context.Context, tx Tx, c Caller, actor Actor, co Company, email, linkHash string, expires, now time.Time) (User, error) {
	u, err := tx.UserByEmail(ctx, co.ID, email)
	switch {
	case errors.Is(err, ErrNotFound):
		name, _, _ := strings.Cut(email, "@")
		if u.ID, err = newID(s.rand, prefixUser); err != nil {
			return u, err
		}
		u = User{ID: u.ID, CompanyID: co.ID, Name: name, Email: email, Role: RoleAdmin, CreatedAt: now, UpdatedAt: now,
			TwoFA: TwoFA{Web: co.Settings.Defaults.Web, Manager: co.Settings.Defaults.Manager}}
		if err := tx.CreateUser(ctx, u); err != nil {
			return u, err
		}
		if err := s.audit(ctx, tx, c, AuditEvent{CompanyID: co.ID, Time: now, Actor: actor,
			Action: ActionUserCreated, TargetID: u.ID, TargetName: u.Name,
			Details: details(map[string]any{"twofa": u.TwoFA, "role": u.Role})}); err != nil {
			return u, err
		}
	case err != nil:
		return u, err
	case u.Role != RoleAdmin:
		old := u
		u.Role, u.UpdatedAt = RoleAdmin, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return u, err
		}
		if err := s.audit(ctx, tx, c, AuditEvent{CompanyID: co.ID, Time: now, Actor: actor,
			Action: ActionUserUpdated, TargetID: u.ID, TargetName: u.Name,
			Details: details(Change{"role", string(old.Role), string(RoleAdmin)})}); err != nil {
			return u, err
		}
	}
	acct, err := tx.AdminByUser(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		acct = AdminAccount{UserID: u.ID, CompanyID: co.ID, CreatedAt: now}
	} else if err != nil {
		return u, err
	}
	acct.Email, acct.UpdatedAt = email, now
	if err := tx.SaveAdminAccount(ctx, acct); errors.Is(err, ErrConflict) {
		return u, Invalid("email", "this email address already signs in to another company's console")
	} else if err != nil {
		return u, err
	}
	// A new link replaces the ones before it.
	if err := tx.DeleteSetupLinks(ctx, u.ID); err != nil {
		return u, err
	}
	return u, tx.CreateSetupLink(ctx, linkHash, u.ID, expires)
}

// SetupLink tells whose set-up link a token is, while it can be used.
func (s *Accounts) SetupLink(ctx context.Context, token string) (AdminAccount, error) {
	var a AdminAccount
	err := s.view(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		userID, err := tx.SetupLinkUser(ctx, tokenHash(token), now)
		if errors.Is(err, ErrNotFound) {
			return errLinkInvalid
		}
		if err != nil {
			return err
		}
		a, err = tx.AdminByUser(ctx, userID)
		return err
	})
	return a, err
}

// CompleteSetup sets an admin's password with a set-up link, which then
// works no more, nor does any other link of theirs. Any sessions the
// admin had end. The password is hashed before the transaction, which
// then holds no writer while argon2 runs.
func (s *Accounts) CompleteSetup(ctx context.Context, token, password string) error {
	a, err := s.SetupLink(ctx, token)
	if err != nil {
		return err
	}
	if err := CheckPassword(password, a.Email); err != nil {
		return err
	}
	hash, err := s.passwords.hash(ctx, s.rand, password)
	if err != nil {
		return AsError(err)
	}
	return s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		userID, err := tx.UseSetupLink(ctx, tokenHash(token), now)
		if errors.Is(err, ErrNotFound) || (err == nil && userID != a.UserID) {
			return errLinkInvalid
		} else if err != nil {
			return err
		}
		if a, err = tx.AdminByUser(ctx, userID); err != nil {
			return err
		}
		a.PasswordHash, a.UpdatedAt = hash, now
		if err := tx.SaveAdminAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.DeleteSetupLinks(ctx, userID); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, a.UserID); err != nil {
			return err
		}
		u, err := tx.User(ctx, a.CompanyID, a.UserID)
		if err != nil {
			return err
		}
		who := Actor{Type: ActorUser, ID: u.ID, Name: u.Name}
		return s.audit(ctx, tx, Caller{}, AuditEvent{CompanyID: a.CompanyID, Time: now, Actor: who,
			Action: ActionAdminPasswordSet, TargetID: u.ID, TargetName: u.Name})
	})
}

// SignInStart is the outcome of the password step: a pending session and
// the challenge of its second step.
type SignInStart struct {
	PendingToken string
	Challenge    ChallengeView
}

// SignIn checks an admin's email and password and starts their second
// step: a code by the company's policy, through the same challenge engine
// as every sign-in. Every failure of the password step answers alike.
//
// Failed tries are limited per email from one address and per address
// (an IPv6 /64 counts as one), never per email alone: someone who knows
// an admin's email cannot lock the admin out from elsewhere. Each try
// takes its place in the limits before the password is checked, so that
// parallel tries are counted exactly; a right password gives it back.
func (s *Accounts) SignIn(ctx context.Context, email, password, ip, userAgent string) (SignInStart, error) {
	var out SignInStart
	email = strings.ToLower(strings.TrimSpace(email))
	limits := signInLimits(email, ip)
	at, err := s.countSignIn(ctx, limits)
	if err != nil {
		return out, err
	}
	var acct AdminAccount
	err = s.view(ctx, func(tx Tx) error {
		var err error
		acct, err = tx.AdminByEmail(ctx, email)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, err
	}
	hash := acct.PasswordHash
	if hash == "" {
		hash = dummyHash // the same work as a real check
	}
	match, err := s.passwords.matches(ctx, password, hash)
	if err != nil {
		return out, err
	}
	if !match || acct.PasswordHash == "" {
		return out, errSignInFailed
	}
	if err := s.update(ctx, func(tx Tx) error { return unhit(ctx, tx, limits, at, signInWindow) }); err != nil {
		return out, err
	}
	admin := Caller{Scope: acct.CompanyID, UserID: acct.UserID, IP: ip, UserAgent: userAgent}
	res, err := s.signIns.startChallenge(ctx, admin, acct.CompanyID, acct.UserID,
		NewChallenge{App: string(AppWeb), IP: ip, UserAgent: userAgent}, true)
	var e *Error
	switch {
	case errors.As(err, &e) && e.Code == CodeLocked:
		return out, errSignInFailed // a locked account answers like a wrong password
	case errors.As(err, &e) && e.Code == CodeRateLimited:
		// The password was right: the codes for the account ran out.
		return out, tooMany("Too many codes were sent for this account in the last hour.", e.RetryAfter)
	}
	if err != nil {
		return out, err
	}
	token, err := s.newToken()
	if err != nil {
		return out, Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		return tx.CreateSession(ctx, Session{TokenHash: tokenHash(token), UserID: acct.UserID, CompanyID: acct.CompanyID,
			Stage: StagePending, ChallengeID: res.ID, CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(PendingTTL)})
	})
	return SignInStart{PendingToken: token, Challenge: res.ChallengeView}, err
}

// signInLimits are the limits a password try counts against: the email
// from this address, and the address. Emails are in lower case already.
func signInLimits(email, ip string) []rateLimit {
	limits := []rateLimit{{key: rateKey("signin-email-ip", email+"\x00"+ipKey(ip)), limit: SignInFailuresPerEmailIP}}
	if ip != "" {
		limits = append(limits, rateLimit{key: rateKey("signin-ip", ipKey(ip)), limit: SignInFailuresPerIP})
	}
	return limits
}

// countSignIn counts a password try against its limits and returns the
// time it was counted at, which a right password gives back.
func (s *Accounts) countSignIn(ctx context.Context, limits []rateLimit) (time.Time, error) {
	var at time.Time
	err := s.update(ctx, func(tx Tx) error {
		var err error
		if at, err = tx.Now(ctx); err != nil {
			return err
		}
		full, retry, err := hit(ctx, tx, limits, at, signInWindow)
		if err != nil {
			return err
		}
		if full != nil {
			return tooMany("Too many failed sign-in attempts.", retry)
		}
		return nil
	})
	return at, err
}

// pending reads a pending session and the caller it acts as.
func (s *Accounts) pending(ctx context.Context, tx Tx, token string) (Session, Caller, error) {
	now, err := tx.Now(ctx)
	if err != nil {
		return Session{}, Caller{}, err
	}
	ses, err := tx.Session(ctx, tokenHash(token))
	if errors.Is(err, ErrNotFound) || (err == nil && (ses.Stage != StagePending || !now.Before(ses.ExpiresAt))) {
		return ses, Caller{}, errSessionInvalid
	}
	return ses, Caller{Scope: ses.CompanyID, UserID: ses.UserID}, err
}

// SignInPasskey starts a passkey ceremony for a pending sign-in; its
// answer goes to SignInVerify with method webauthn.
func (s *Accounts) SignInPasskey(ctx context.Context, pendingToken string) (json.RawMessage, error) {
	var ses Session
	var c Caller
	err := s.view(ctx, func(tx Tx) error {
		var err error
		ses, c, err = s.pending(ctx, tx, pendingToken)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.signIns.beginPasskeyLogin(ctx, c, ses.ChallengeID)
}

// SignInChallenge reads the second step of a pending sign-in.
func (s *Accounts) SignInChallenge(ctx context.Context, pendingToken string) (ChallengeView, error) {
	var ses Session
	var c Caller
	err := s.view(ctx, func(tx Tx) error {
		var err error
		ses, c, err = s.pending(ctx, tx, pendingToken)
		return err
	})
	if err != nil {
		return ChallengeView{}, err
	}
	return s.signIns.Challenge(ctx, c, ses.ChallengeID)
}

// SignInVerify checks the proof of a pending sign-in. On approval the
// pending session ends and a new, full session begins, with a new token:
// the session id changes at sign-in. It returns the new token ("" unless
// approved) and the challenge.
func (s *Accounts) SignInVerify(ctx context.Context, pendingToken string, proof Proof, ip, userAgent string) (string, ChallengeView, error) {
	var (
		ses Session
		c   Caller
	)
	err := s.view(ctx, func(tx Tx) error {
		var err error
		ses, c, err = s.pending(ctx, tx, pendingToken)
		return err
	})
	if err != nil {
		return "", ChallengeView{}, err
	}
	c.IP, c.UserAgent = ip, userAgent
	v, result, err := s.signIns.Verify(ctx, c, ses.ChallengeID, proof)
	if err != nil || result != ResultApproved {
		return "", v, err
	}
	token, err := s.newToken()
	if err != nil {
		return "", v, Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, ses.TokenHash); err != nil {
			return err
		}
		return tx.CreateSession(ctx, Session{TokenHash: tokenHash(token), UserID: ses.UserID, CompanyID: ses.CompanyID,
			Stage: StageFull, CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(SessionAbsolute), IP: ip, UserAgent: clip(userAgent, 300)})
	})
	return token, v, err
}

// SignInResend sends a new code for a pending sign-in.
func (s *Accounts) SignInResend(ctx context.Context, pendingToken string, channel Channel) (ChallengeView, error) {
	var (
		ses Session
		c   Caller
	)
	err := s.view(ctx, func(tx Tx) error {
		var err error
		ses, c, err = s.pending(ctx, tx, pendingToken)
		return err
	})
	if err != nil {
		return ChallengeView{}, err
	}
	return s.signIns.Resend(ctx, c, ses.ChallengeID, channel)
}

// Console is a signed-in admin: their caller and who they are.
type Console struct {
	Caller  Caller
	User    User
	Company Company
	// Session is the hash of this session's token, to tell it among the
	// admin's sessions.
	Session string
}

// SessionUser checks a full session's token and returns the admin it
// belongs to. Sessions end after SessionIdle without a request and after
// SessionAbsolute in any case.
func (s *Accounts) SessionUser(ctx context.Context, token, ip, userAgent string) (Console, error) {
	var (
		out   Console
		touch bool
		now   time.Time
	)
	err := s.view(ctx, func(tx Tx) error {
		var err error
		if now, err = tx.Now(ctx); err != nil {
			return err
		}
		ses, err := tx.Session(ctx, tokenHash(token))
		if errors.Is(err, ErrNotFound) || (err == nil && (ses.Stage != StageFull || !now.Before(ses.ExpiresAt) ||
			!now.Before(ses.SeenAt.Add(SessionIdle)))) {
			return errSessionInvalid
		}
		if err != nil {
			return err
		}
		touch, out.Session = now.Sub(ses.SeenAt) > sessionTouch, ses.TokenHash
		if out.User, err = tx.User(ctx, ses.CompanyID, ses.UserID); errors.Is(err, ErrNotFound) {
			return errSessionInvalid
		} else if err != nil {
			return err
		}
		if out.User.Role != RoleAdmin {
			return errSessionInvalid // no longer an admin
		}
		out.Company, err = tx.Company(ctx, ses.CompanyID)
		return err
	})
	if err != nil {
		return out, err
	}
	out.Caller = Caller{Scope: out.User.CompanyID, UserID: out.User.ID, IP: ip, UserAgent: userAgent}
	if touch {
		err = s.update(ctx, func(tx Tx) error { return tx.TouchSession(ctx, tokenHash(token), now) })
	}
	return out, err
}

// SignOut ends a session.
func (s *Accounts) SignOut(ctx context.Context, token string) error {
	return s.update(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, tokenHash(token)) })
}

package twostep

import (
	"context"
	"errors"

	"github.com/twostep/twostep/result"
)

// errEnrollmentStarted answers a second enrolment from one sign-in.
var errEnrollmentStarted = &Error{Code: CodeNotFound, Message: "Set-up has been started for this sign-in already. Go back and sign in again."}

// errEnrollmentInvalid answers an enrolment link that opens nothing.
var errEnrollmentInvalid = &Error{Code: CodeNotFound, Message: "This link has expired or has been used. Go back and start again."}

// EnrollmentPage is what the hosted enrolment page shows.
type EnrollmentPage struct {
	Company Company
	User    User
	Factors Factors
	// Pending is the authenticator app being added, with its key, while it
	// waits for its confirming code.
	Pending *NewAuthenticator
	// Later: the user came from a sign-in in their grace period and may
	// leave enrolment for another time.
	Later bool
	// TOTP: the company lets users add authenticator apps; Passkeys: and
	// passkeys, which this service checks.
	TOTP     bool
	Passkeys bool
	// ReturnURL is where the page ends up; its origin is the one the
	// page's last form may go to.
	ReturnURL string
}

// enrollmentCaller opens an enrolment link: it acts for its company, in
// the name of its user, who is the audit log's actor.
func (s *Enrolment) enrollmentCaller(ctx context.Context, token, ip, userAgent string) (Enrollment, Caller, error) {
	var e Enrollment
	err := s.view(ctx, func(tx Tx) error {
		var err error
		e, err = tx.Enrollment(ctx, tokenHash(token))
		if errors.Is(err, ErrNotFound) {
			return errEnrollmentInvalid
		}
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err == nil && (!now.Before(e.ExpiresAt) || !e.UsedAt.IsZero()) {
			return errEnrollmentInvalid
		}
		return err
	})
	return e, Caller{Scope: e.CompanyID, UserID: e.UserID, IP: ip, UserAgent: userAgent}, err
}

// OpenEnrollment reads an enrolment page; pendingID, if given, names the
// unconfirmed authenticator app whose key the page shows again.
func (s *Enrolment) OpenEnrollment(ctx context.Context, token, pendingID string) (EnrollmentPage, error) {
	var p EnrollmentPage
	e, _, err := s.enrollmentCaller(ctx, token, "", "")
	if err != nil {
		return p, err
	}
	err = s.view(ctx, func(tx Tx) error {
		var err error
		if p.Company, err = tx.Company(ctx, e.CompanyID); err != nil {
			return err
		}
		if p.User, err = s.user(ctx, tx, e.CompanyID, e.UserID, false); err != nil {
			return errEnrollmentInvalid
		}
		if p.Factors, err = tx.Factors(ctx, e.CompanyID, e.UserID); err != nil {
			return err
		}
		p.TOTP, p.Later, p.ReturnURL = p.Company.Settings.Authenticators.TOTP, e.ChallengeID != "", e.ReturnURL
		p.Passkeys = p.Company.Settings.Authenticators.WebAuthn && s.relyingParty != nil
		if pendingID == "" {
			return nil
		}
		a, err := s.pendingApp(ctx, tx, p.Company, p.User, pendingID)
		if errors.Is(err, ErrNotFound) {
			return nil // gone or done: the page starts again
		}
		p.Pending = &a
		return err
	})
	return p, err
}

// EnrollApp starts adding an authenticator app from the enrolment page.
func (s *Enrolment) EnrollApp(ctx context.Context, token, ip, userAgent string) (NewAuthenticator, error) {
	e, c, err := s.enrollmentCaller(ctx, token, ip, userAgent)
	if err != nil {
		return NewAuthenticator{}, err
	}
	return s.AddAuthenticator(ctx, c, e.CompanyID, e.UserID, string(AuthenticatorTOTP), "")
}

// EnrollConfirm confirms the app with a code and gives the user a new
// set of recovery codes, shown once.
func (s *Enrolment) EnrollConfirm(ctx context.Context, token, appID, code, ip, userAgent string) ([]string, error) {
	e, c, err := s.enrollmentCaller(ctx, token, ip, userAgent)
	if err != nil {
		return nil, err
	}
	if _, err := s.ConfirmAuthenticator(ctx, c, e.CompanyID, e.UserID, appID, code); err != nil {
		return nil, err
	}
	return s.NewRecoveryCodes(ctx, c, e.CompanyID, e.UserID)
}

// EnrollRecoveryCodes gives the user of an enrolment page, who has an
// authenticator app, a new set of recovery codes. Without an app it is
// refused: recovery codes made on the page would otherwise stand in for
// the app that strong authentication asks for, for ever.
func (s *Enrolment) EnrollRecoveryCodes(ctx context.Context, token, ip, userAgent string) ([]string, error) {
	e, c, err := s.enrollmentCaller(ctx, token, ip, userAgent)
	if err != nil {
		return nil, err
	}
	return s.replaceRecoveryCodes(ctx, c, e.CompanyID, e.UserID, true)
}

// errNeedsApp answers a request for recovery codes from a user without an
// authenticator.
var errNeedsApp = &Error{Code: CodeForbidden, Message: "Set up an authenticator app first; recovery codes come with it."}

// FinishEnrollment ends an enrolment link and returns where the user goes
// next: the return URL; for a sign-in that sent the user here, with the
// sign-in's signed result, made now (enrolment may take longer than a
// result lives) and still naming the approval's time as auth_time.
func (s *Enrolment) FinishEnrollment(ctx context.Context, token string) (string, error) {
	e, c, err := s.enrollmentCaller(ctx, token, "", "")
	if err != nil {
		return "", err
	}
	next := e.ReturnURL
	err = s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		// Marking it finished first makes finishing happen once, however
		// many requests race: the others find it finished.
		if err := tx.UseEnrollment(ctx, e.TokenHash, now); errors.Is(err, ErrNotFound) {
			return errEnrollmentInvalid
		} else if err != nil {
			return err
		}
		if e.ChallengeID == "" || s.signer == nil {
			return nil
		}
		cc, err := s.signIns.loadChallenge(ctx, tx, c, e.ChallengeID, false)
		if err != nil {
			return err
		}
		if cc.ch.Status != StatusApproved {
			return errEnrollmentInvalid
		}
		claims := resultClaims(cc.ch, cc.u)
		claims.IssuedAt, claims.ExpiresAt = cc.now.Unix(), cc.now.Add(result.TTL).Unix()
		next = ResultURL(cc.ch.ReturnURL, s.signer.Sign(claims))
		return nil
	})
	return next, err
}

// PageEnrollment sends the user of an approved hosted page, whose app asks
// for a stronger authenticator, to enrolment: it returns a new enrolment
// link's token, bound to the sign-in.
func (s *Enrolment) PageEnrollment(ctx context.Context, verifyToken string) (string, error) {
	id, c, err := s.signIns.pageCaller(ctx, verifyToken, "", "")
	if err != nil {
		return "", err
	}
	token, err := s.newToken()
	if err != nil {
		return "", Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error {
		cc, err := s.signIns.loadChallenge(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		// Only while the page would hand out the result itself: enrolment
		// does not stretch a sign-in's result beyond its own time.
		if cc.ch.Status != StatusApproved || !cc.ch.EnrollmentRequired || cc.ch.ReturnURL == "" ||
			!cc.now.Before(cc.ch.ApprovedAt.Add(result.TTL)) {
			return errPageInvalid
		}
		// One link per sign-in (a unique index): the result it hands back
		// is minted once, within the link's 30 minutes.
		err = tx.CreateEnrollment(ctx, Enrollment{TokenHash: tokenHash(token), CompanyID: cc.ch.CompanyID,
			UserID: cc.ch.UserID, ChallengeID: cc.ch.ID, ReturnURL: cc.ch.ReturnURL, CreatedAt: cc.now,
			ExpiresAt: cc.now.Add(EnrollmentLifetime)})
		if errors.Is(err, ErrConflict) {
			return errEnrollmentStarted
		}
		return err
	})
	return token, err
}

package twostep

import (
	"context"
	"errors"
	"io"
	"time"
)

// NewAuthenticator is what a new authenticator app starts from. The
// secret and its otpauth URI are shown once, here; the app counts once a
// first code confirms it.
type NewAuthenticator struct {
	Authenticator
	Secret     string // base32
	OTPAuthURI string
}

// errAuthenticatorNotFound answers an authenticator the user does not
// have (or whose confirmation time ran out).
var errAuthenticatorNotFound = NotFound("authenticator")

// errCodeIncorrect answers a wrong confirming code.
var errCodeIncorrect = &Error{Code: CodeIncorrect, Field: "code",
	Message: "That code is not right. Check the time on your phone is set automatically, and enter the code the app shows now."}

// maxAuthenticatorName bounds an authenticator's name.
const maxAuthenticatorName = 64

// AddAuthenticator starts adding an authenticator app for a user: a new
// 160-bit secret, sealed at rest, unconfirmed until ConfirmAuthenticator.
func (s *Enrolment) AddAuthenticator(ctx context.Context, c Caller, companyID, userID, typ, name string) (NewAuthenticator, error) {
	var out NewAuthenticator
	if AuthenticatorType(typ) != AuthenticatorTOTP {
		if AuthenticatorType(typ) == AuthenticatorWebAuthn {
			return out, Invalid("type", "passkeys are added on the hosted enrolment page")
		}
		return out, Invalid("type", "type must be %q", AuthenticatorTOTP)
	}
	name, err := cleanText("name", name, maxAuthenticatorName, true)
	if err != nil {
		return out, err
	}
	if name == "" {
		name = "Authenticator app"
	}
	id, err := newID(s.rand, prefixAuthenticator)
	if err != nil {
		return out, Internal(err)
	}
	secret := make([]byte, totpSecretSize)
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return out, Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error {
		co, _, u, err := s.owner(ctx, tx, c, companyID, userID, false)
		if err != nil {
			return err
		}
		if !co.Settings.Authenticators.TOTP {
			return Invalid("type", "this company does not let users add authenticator apps")
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		a := Authenticator{ID: id, CompanyID: companyID, UserID: userID, Type: AuthenticatorTOTP, Name: name, CreatedAt: now}
		if a.SealedSecret, err = s.sealer.seal(s.rand, string(secret), a.sealBinding()); err != nil {
			return Internal(err)
		}
		if err := tx.CreateAuthenticator(ctx, a); err != nil {
			return err
		}
		out = NewAuthenticator{Authenticator: a, Secret: totpKey.EncodeToString(secret),
			OTPAuthURI: otpauthURI(co.Name, accountName(u), secret)}
		return nil
	})
	return out, err
}

// accountName labels a user's entry in their authenticator app.
func accountName(u User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.Name
}

// ConfirmAuthenticator confirms an authenticator app with a code it shows
// now, after which it proves the user's sign-ins. A wrong code changes
// nothing.
func (s *Enrolment) ConfirmAuthenticator(ctx context.Context, c Caller, companyID, userID, id, code string) (Authenticator, error) {
	var out Authenticator
	code, err := NormalizeCode(code)
	if err != nil {
		return out, err
	}
	err = s.update(ctx, func(tx Tx) error {
		_, actor, u, err := s.owner(ctx, tx, c, companyID, userID, true)
		if err != nil {
			return err
		}
		a, now, err := s.authenticator(ctx, tx, companyID, userID, id)
		if err != nil {
			return err
		}
		if a.Confirmed() {
			out = a
			return nil // confirmed already: nothing more to do
		}
		ok, err := appCode{s.sealer}.use(ctx, tx, a, code, now)
		if err != nil {
			return err
		}
		if !ok {
			return errCodeIncorrect
		}
		if err := tx.RefreshFactors(ctx, companyID, userID); err != nil {
			return err
		}
		out = a
		out.ConfirmedAt, out.LastUsedAt = now, now
		return s.auditAuthenticator(ctx, tx, c, actor, u, a, ActionAuthenticatorAdded, now)
	})
	return out, err
}

// authenticator reads a user's authenticator, as not found when an
// unconfirmed one's time has run out.
func (s *Enrolment) authenticator(ctx context.Context, tx Tx, companyID, userID, id string) (Authenticator, time.Time, error) {
	now, err := tx.Now(ctx)
	if err != nil {
		return Authenticator{}, now, err
	}
	a, err := tx.Authenticator(ctx, companyID, userID, id)
	if errors.Is(err, ErrNotFound) || (err == nil && a.expired(now)) {
		return a, now, errAuthenticatorNotFound
	}
	return a, now, err
}

// expired reports whether an unconfirmed authenticator's time is up.
func (a Authenticator) expired(now time.Time) bool {
	return !a.Confirmed() && !now.Before(a.CreatedAt.Add(UnconfirmedLifetime))
}

// Authenticators lists a user's authenticators (the unconfirmed ones
// still waiting too) and how many recovery codes they have left.
func (s *Enrolment) Authenticators(ctx context.Context, c Caller, companyID, userID string) ([]Authenticator, int, error) {
	var (
		out  []Authenticator
		left int
	)
	err := s.view(ctx, func(tx Tx) error {
		if _, _, _, err := s.owner(ctx, tx, c, companyID, userID, false); err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		all, err := tx.Authenticators(ctx, companyID, userID)
		if err != nil {
			return err
		}
		for _, a := range all {
			if !a.expired(now) {
				out = append(out, a)
			}
		}
		f, err := tx.Factors(ctx, companyID, userID)
		left = f.RecoveryCodes
		return err
	})
	return out, left, err
}

// RemoveAuthenticator deletes a user's authenticator.
func (s *Enrolment) RemoveAuthenticator(ctx context.Context, c Caller, companyID, userID, id string) error {
	return s.update(ctx, func(tx Tx) error {
		_, actor, u, err := s.owner(ctx, tx, c, companyID, userID, true)
		if err != nil {
			return err
		}
		a, now, err := s.authenticator(ctx, tx, companyID, userID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteAuthenticator(ctx, companyID, userID, id); err != nil {
			return err
		}
		if err := tx.RefreshFactors(ctx, companyID, userID); err != nil {
			return err
		}
		if !a.Confirmed() {
			return nil // it never counted, so its going is no event
		}
		// Losing an authenticator ends the user's remembered devices.
		if _, err := tx.DeleteDevices(ctx, companyID, userID, ""); err != nil {
			return err
		}
		return s.auditAuthenticator(ctx, tx, c, actor, u, a, ActionAuthenticatorRemoved, now)
	})
}

// NewRecoveryCodes gives a user a new set of recovery codes, which
// replaces the old one; the codes are shown only now.
func (s *Enrolment) NewRecoveryCodes(ctx context.Context, c Caller, companyID, userID string) ([]string, error) {
	return s.replaceRecoveryCodes(ctx, c, companyID, userID, false)
}

// replaceRecoveryCodes is NewRecoveryCodes; with needsAuthenticator it
// refuses a user without an authenticator app or passkey, checked with
// the user held, in the transaction that makes the codes.
func (s *Enrolment) replaceRecoveryCodes(ctx context.Context, c Caller, companyID, userID string, needsAuthenticator bool) ([]string, error) {
	codes, err := newRecoveryCodes(s.rand)
	if err != nil {
		return nil, Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error {
		_, actor, u, err := s.owner(ctx, tx, c, companyID, userID, true)
		if err != nil {
			return err
		}
		if needsAuthenticator {
			f, err := tx.Factors(ctx, companyID, userID)
			if err != nil {
				return err
			}
			if f.TOTP == 0 && f.WebAuthn == 0 {
				return errNeedsApp
			}
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		hashes := make([]string, len(codes))
		for i, code := range codes {
			n, err := NormalizeRecoveryCode(code)
			if err != nil {
				return Internal(err)
			}
			hashes[i] = recoveryHash(s.codeKey, userID, n)
		}
		if err := tx.ReplaceRecoveryCodes(ctx, companyID, userID, hashes, now); err != nil {
			return err
		}
		if err := tx.RefreshFactors(ctx, companyID, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: companyID, Time: now, Actor: actor,
			Action: ActionRecoveryCodesGenerated, TargetID: u.ID, TargetName: u.Name,
			Details: details(map[string]any{"count": len(codes)})})
	})
	return codes, err
}

// PendingAuthenticator reads an authenticator app that waits for its
// confirming code, with its key, so that a page can show it again; it is
// not found once confirmed or past its time.
func (s *Enrolment) PendingAuthenticator(ctx context.Context, c Caller, companyID, userID, id string) (NewAuthenticator, error) {
	var out NewAuthenticator
	err := s.view(ctx, func(tx Tx) error {
		co, _, u, err := s.owner(ctx, tx, c, companyID, userID, false)
		if err != nil {
			return err
		}
		out, err = s.pendingApp(ctx, tx, co, u, id)
		return err
	})
	return out, err
}

// pendingApp reads an unconfirmed authenticator app with its key.
func (s *Enrolment) pendingApp(ctx context.Context, tx Tx, co Company, u User, id string) (NewAuthenticator, error) {
	a, _, err := s.authenticator(ctx, tx, co.ID, u.ID, id)
	if err == nil && a.Confirmed() {
		err = errAuthenticatorNotFound
	}
	if err != nil {
		return NewAuthenticator{}, err
	}
	secret, err := s.sealer.open(a.SealedSecret, a.sealBinding())
	if err != nil {
		return NewAuthenticator{}, err
	}
	return NewAuthenticator{Authenticator: a, Secret: totpKey.EncodeToString([]byte(secret)),
		OTPAuthURI: otpauthURI(co.Name, accountName(u), []byte(secret))}, nil
}

// owner checks the caller's access to the company and reads the user whose
// authenticators a call is about; forUpdate holds the user row, as every
// change to what a user has must (see RefreshFactors).
func (s *Enrolment) owner(ctx context.Context, tx Tx, c Caller, companyID, userID string, forUpdate bool) (Company, Actor, User, error) {
	co, actor, err := s.company(ctx, tx, c, companyID, false)
	if err != nil {
		return co, actor, User{}, err
	}
	u, err := s.user(ctx, tx, companyID, userID, forUpdate)
	return co, actor, u, err
}

// auditAuthenticator records an authenticator added or removed.
func (s *Enrolment) auditAuthenticator(ctx context.Context, tx Tx, c Caller, actor Actor, u User, a Authenticator, action Action, now time.Time) error {
	return s.audit(ctx, tx, c, AuditEvent{CompanyID: u.CompanyID, Time: now, Actor: actor, Action: action,
		TargetID: u.ID, TargetName: u.Name,
		Details: details(map[string]any{"authenticator_id": a.ID, "type": a.Type, "name": a.Name})})
}

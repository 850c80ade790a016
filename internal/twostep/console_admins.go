package twostep

import (
	"context"
	"errors"
	"strings"
	"time"
)

// AdminRow is one console admin of a company, as the Admins page lists
// them.
type AdminRow struct {
	User    User
	Email   string
	Invited bool // their set-up link is not used yet
}

// ResetLinkTTL is how long a password reset link works.
const ResetLinkTTL = time.Hour

// Password reset limits: requests per email and per client IP an hour.
// Unknown emails count alike, so the limit says nothing about who exists.
const (
	ResetsPerEmail = 3
	ResetsPerIP    = 20
	resetWindow    = time.Hour
)

// ConsoleAdmins lists the company's console admins by email.
func (s *Accounts) ConsoleAdmins(ctx context.Context, c Caller, companyID string) ([]AdminRow, error) {
	var out []AdminRow
	err := s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		accts, err := tx.AdminAccounts(ctx, companyID)
		if err != nil {
			return err
		}
		for _, a := range accts {
			u, err := tx.User(ctx, companyID, a.UserID)
			if err != nil {
				return err
			}
			out = append(out, AdminRow{User: u, Email: a.Email, Invited: a.PasswordHash == ""})
		}
		return nil
	})
	return out, err
}

// InviteAdmin makes the user with email an admin of the company (adding
// the user when there is none) and emails them a set-up link through the
// outbox, in one transaction. Inviting again sends a new link; the old
// one stops working. Audited with the inviting admin as User.
func (s *Accounts) InviteAdmin(ctx context.Context, c Caller, companyID, email string) (User, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil || email == "" {
		return User{}, Invalid("email", "Enter an email address in the correct format, like name@example.com")
	}
	email = strings.ToLower(email) // as the account keeps it
	token, err := s.newToken()
	if err != nil {
		return User{}, Internal(err)
	}
	var (
		u    User
		sent *Message
	)
	err = s.update(ctx, func(tx Tx) error {
		co, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		expires := now.Add(SetupLinkTTL)
		if u, err = s.makeAdmin(ctx, tx, c, actor, co, email, tokenHash(token), expires, now); err != nil {
			return err
		}
		if sent, err = s.enqueueLink(ctx, tx, KindSetupLink, u, co, email, token, expires, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: co.ID, Time: now, Actor: actor, Action: ActionAdminInvited,
			TargetID: u.ID, TargetName: u.Name, Details: details(map[string]any{"email": email})})
	})
	if err == nil {
		s.dispatch(sent)
	}
	return u, err
}

// RemoveAdmin ends a user's console access: their account, links and
// sessions go; the user stays, as a member. The company's last admin
// cannot be removed, so that someone can always sign in. Audited.
func (s *Accounts) RemoveAdmin(ctx context.Context, c Caller, companyID, userID string) error {
	return s.update(ctx, func(tx Tx) error {
		co, actor, err := s.company(ctx, tx, c, companyID, true) // held: two removals line up
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, co.ID, userID, true)
		if err != nil {
			return err
		}
		acct, err := tx.AdminByUser(ctx, u.ID)
		if errors.Is(err, ErrNotFound) || (err == nil && acct.CompanyID != co.ID) {
			return NotFound("admin")
		} else if err != nil {
			return err
		}
		all, err := tx.AdminAccounts(ctx, co.ID)
		if err != nil {
			return err
		}
		if len(all) <= 1 {
			return &Error{Code: CodeConflict, Field: "admin", Message: "This is the company's only admin. Invite another admin before you remove this one."}
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		if err := tx.DeleteAdminAccount(ctx, u.ID); err != nil {
			return err
		}
		if err := tx.DeleteSetupLinks(ctx, u.ID); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		if u.Role == RoleAdmin {
			u.Role, u.UpdatedAt = RoleMember, now
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: co.ID, Time: now, Actor: actor, Action: ActionAdminRemoved,
			TargetID: u.ID, TargetName: u.Name, Details: details(map[string]any{"email": acct.Email})})
	})
}

// RequestPasswordReset emails an admin a link to choose a new password,
// good for ResetLinkTTL; an earlier link stops working. Every request
// answers the same, whether or not the email is an admin's, and counts
// against the limits the same: only the mailbox learns the difference.
func (s *Accounts) RequestPasswordReset(ctx context.Context, email, ip, userAgent string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if _, err := NormalizeEmail("email", email); err != nil || email == "" {
		return Invalid("email", "Enter an email address in the correct format, like name@example.com")
	}
	token, err := s.newToken()
	if err != nil {
		return Internal(err)
	}
	limits := []rateLimit{{key: rateKey("reset-email", email), limit: ResetsPerEmail}}
	if ip != "" {
		limits = append(limits, rateLimit{key: rateKey("reset-ip", ipKey(ip)), limit: ResetsPerIP})
	}
	var sent *Message
	err = s.update(ctx, func(tx Tx) error {
		sent = nil
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		full, retry, err := hit(ctx, tx, limits, now, resetWindow)
		if err != nil {
			return err
		}
		if full != nil {
			return tooMany("Too many password reset requests.", retry)
		}
		acct, err := tx.AdminByEmail(ctx, email)
		if errors.Is(err, ErrNotFound) {
			return nil // the same answer
		} else if err != nil {
			return err
		}
		co, err := tx.Company(ctx, acct.CompanyID)
		if err != nil {
			return err
		}
		u, err := tx.User(ctx, co.ID, acct.UserID)
		if err != nil {
			return err
		}
		expires := now.Add(ResetLinkTTL)
		if err := tx.DeleteSetupLinks(ctx, u.ID); err != nil {
			return err
		}
		if err := tx.CreateSetupLink(ctx, tokenHash(token), u.ID, expires); err != nil {
			return err
		}
		if sent, err = s.enqueueLink(ctx, tx, KindResetLink, u, co, acct.Email, token, expires, now); err != nil {
			return err
		}
		who := Actor{Type: ActorUser, ID: u.ID, Name: u.Name}
		return s.audit(ctx, tx, Caller{IP: ip, UserAgent: userAgent}, AuditEvent{CompanyID: co.ID, Time: now, Actor: who,
			Action: ActionAdminPasswordReset, TargetID: u.ID, TargetName: u.Name})
	})
	if err == nil {
		s.dispatch(sent)
	}
	return err
}

// ConsoleSessions lists the signed-in admin's own sessions, the latest
// active first; those past their idle or absolute end are left out.
func (s *Accounts) ConsoleSessions(ctx context.Context, c Caller) ([]Session, error) {
	var out []Session
	err := s.view(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		all, err := tx.UserSessions(ctx, c.UserID)
		if err != nil {
			return err
		}
		for _, ses := range all {
			if ses.CompanyID == c.Scope && now.Before(ses.ExpiresAt) && now.Before(ses.SeenAt.Add(SessionIdle)) {
				out = append(out, ses)
			}
		}
		return nil
	})
	return out, err
}

// SignOutEverywhere ends every session of the signed-in admin, this one
// too. Audited.
func (s *Accounts) SignOutEverywhere(ctx context.Context, c Caller) error {
	return s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, c.Scope, false)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		n, err := tx.UserSessions(ctx, c.UserID)
		if err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, c.UserID); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: c.Scope, Time: now, Actor: actor, Action: ActionAdminSignedOutEverywhere,
			TargetID: actor.ID, TargetName: actor.Name, Details: details(map[string]any{"sessions": len(n)})})
	})
}

// enqueueLink queues the email of a set-up or reset link: the token
// sealed as a code is, the expiry the link's.
func (s *Accounts) enqueueLink(ctx context.Context, tx Tx, kind MessageKind, u User, co Company, email, token string, expires, now time.Time) (*Message, error) {
	m := OutboxMessage{Kind: kind, CompanyID: co.ID, UserID: u.ID, Send: 1, Channel: ChannelEmail, Destination: email,
		CompanyName: co.Name, CodeExpiresAt: expires, Status: DeliveryQueued, NextAttemptAt: now, CreatedAt: now}
	var err error
	if m.SealedCode, err = s.sealer.seal(s.rand, token, m.sealBinding()); err != nil {
		return nil, Internal(err)
	}
	return s.enqueue(ctx, tx, m, token, now)
}

// linkFailed records that a console email could not be delivered: in the
// audit log, where the admins look, as for a code.
func (s *Accounts) linkFailed(ctx context.Context, tx Tx, m OutboxMessage, now time.Time, reason string) error {
	u, err := tx.User(ctx, m.CompanyID, m.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil // the user is gone, and with them the need
	} else if err != nil {
		return err
	}
	return s.audit(ctx, tx, Caller{}, AuditEvent{
		CompanyID: m.CompanyID, Time: now, Actor: systemActor, Action: ActionDeliveryFailed,
		TargetID: u.ID, TargetName: u.Name,
		Details: details(map[string]any{"channel": m.Channel, "kind": m.Kind, "reason": reason}),
	})
}

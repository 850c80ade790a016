package twostep

import (
	"context"
	"errors"
)

// errExternalIDTaken answers a collision on the unique external id.
var errExternalIDTaken = &Error{Code: CodeConflict, Field: "external_id", Message: "another user of this company has this external_id", Err: ErrConflict}

// CreateUser creates a user. The 2FA switches the input leaves unset come
// from the company's default settings.
func (s *Directory) CreateUser(ctx context.Context, c Caller, companyID string, in NewUser) (User, error) {
	u := User{ExternalID: in.ExternalID, Name: in.Name, Email: in.Email, Phone: in.Phone, Role: in.Role, CompanyID: companyID}
	id, err := newID(s.rand, prefixUser)
	if err != nil {
		return User{}, Internal(err)
	}
	u.ID = id
	err = s.update(ctx, func(tx Tx) error {
		co, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		if err := u.validate(); err != nil {
			return err
		}
		d := co.Settings.Defaults
		if u.TwoFA, err = applyTwoFA(in.TwoFA, TwoFA{Web: d.Web, Manager: d.Manager}); err != nil {
			return err
		}
		if u.CreatedAt, err = tx.Now(ctx); err != nil {
			return err
		}
		u.UpdatedAt = u.CreatedAt
		if err := tx.CreateUser(ctx, u); errors.Is(err, ErrConflict) {
			return errExternalIDTaken
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, c, AuditEvent{
			CompanyID: companyID, Time: u.CreatedAt, Actor: actor, Action: ActionUserCreated,
			TargetID: u.ID, TargetName: u.Name, Details: details(map[string]any{"twofa": u.TwoFA}),
		})
	})
	return u, err
}

// User reads one user.
func (s *Directory) User(ctx context.Context, c Caller, companyID, userID string) (User, error) {
	var u User
	err := s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		var err error
		u, err = s.user(ctx, tx, companyID, userID, false)
		return err
	})
	return u, err
}

// user reads a user of a company, reporting a missing one as not found.
func (s *core) user(ctx context.Context, tx Tx, companyID, userID string, forUpdate bool) (User, error) {
	read := tx.User
	if forUpdate {
		read = tx.UserForUpdate
	}
	u, err := read(ctx, companyID, userID)
	if errors.Is(err, ErrNotFound) {
		return User{}, NotFound("user")
	}
	return u, err
}

// Users lists a company's users by name, a page at a time.
func (s *Directory) Users(ctx context.Context, c Caller, companyID string, f UserFilter) ([]User, string, error) {
	var (
		users []User
		next  string
		err   error
	)
	if f.Limit, err = checkLimit(f.Limit); err != nil {
		return nil, "", err
	}
	if f.Query, err = cleanQuery(f.Query); err != nil {
		return nil, "", err
	}
	err = s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		var err error
		users, next, err = tx.Users(ctx, companyID, f)
		return err
	})
	return users, next, err
}

// UpdateUser applies a partial update to a user. Changes to the user's
// details are audited as user.updated; changes to the 2FA switches as
// user.2fa_enabled / user.2fa_disabled, one event per app.
func (s *Directory) UpdateUser(ctx context.Context, c Caller, companyID, userID string, p UserPatch) (User, error) {
	var out User
	err := s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		old, err := s.user(ctx, tx, companyID, userID, true)
		if err != nil {
			return err
		}
		u := old
		for _, f := range []struct {
			name  string
			patch Optional[string]
			dst   *string
		}{
			{"external_id", p.ExternalID, &u.ExternalID},
			{"email", p.Email, &u.Email},
			{"phone", p.Phone, &u.Phone},
		} {
			v, ok, err := f.patch.get(f.name) // null clears
			if err != nil {
				return err
			}
			if ok {
				*f.dst = v
			}
		}
		if v, ok, err := p.Name.required("name"); err != nil {
			return err
		} else if ok {
			u.Name = v
		}
		if v, ok, err := p.Role.required("role"); err != nil {
			return err
		} else if ok {
			if v == "" {
				return Invalid("role", "role must be %q or %q", RoleMember, RoleAdmin)
			}
			u.Role = v
		}
		if err := u.validate(); err != nil {
			return err
		}
		if u.TwoFA, err = applyTwoFA(p.TwoFA, u.TwoFA); err != nil {
			return err
		}
		changes := userChanges(old, u)
		if len(changes) == 0 && u.TwoFA == old.TwoFA {
			out = old
			return nil
		}
		if u.UpdatedAt, err = tx.Now(ctx); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, u); errors.Is(err, ErrConflict) {
			return errExternalIDTaken
		} else if err != nil {
			return err
		}
		for _, ch := range changes {
			e := AuditEvent{CompanyID: companyID, Time: u.UpdatedAt, Actor: actor, Action: ActionUserUpdated,
				TargetID: u.ID, TargetName: u.Name, Details: details(ch)}
			if err := s.audit(ctx, tx, c, e); err != nil {
				return err
			}
		}
		if err := s.auditTwoFA(ctx, tx, c, actor, old, u); err != nil {
			return err
		}
		out = u
		return nil
	})
	return out, err
}

// SetTwoFA turns 2FA on or off for one user and app, audited. Setting the
// value it already has changes nothing and writes nothing.
func (s *Directory) SetTwoFA(ctx context.Context, c Caller, companyID, userID string, app App, enabled bool) (User, error) {
	var out User
	err := s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		old, err := s.user(ctx, tx, companyID, userID, true)
		if err != nil {
			return err
		}
		out = old
		if old.TwoFA.For(app) == enabled {
			return nil
		}
		u := old
		u.TwoFA = u.TwoFA.set(app, enabled)
		if u.UpdatedAt, err = tx.Now(ctx); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		return s.auditTwoFA(ctx, tx, c, actor, old, u)
	})
	return out, err
}

// auditTwoFA writes one event per app whose switch differs between from
// and to, and forgets the user's remembered devices in that app.
func (s *Directory) auditTwoFA(ctx context.Context, tx Tx, c Caller, actor Actor, from, to User) error {
	for _, app := range Apps {
		was, is := from.TwoFA.For(app), to.TwoFA.For(app)
		if was == is {
			continue
		}
		if _, err := tx.DeleteDevices(ctx, to.CompanyID, to.ID, app); err != nil {
			return err
		}
		action := ActionTwoFADisabled
		if is {
			action = ActionTwoFAEnabled
		}
		e := AuditEvent{CompanyID: to.CompanyID, Time: to.UpdatedAt, Actor: actor, Action: action,
			TargetID: to.ID, TargetName: to.Name, App: app,
			Details: details(Change{Field: "twofa." + string(app), From: was, To: is})}
		if err := s.audit(ctx, tx, c, e); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser deletes a user, audited. Their audit events stay, with the
// name they had.
func (s *Directory) DeleteUser(ctx context.Context, c Caller, companyID, userID string) error {
	return s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, companyID, userID, true)
		if err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, companyID, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: companyID, Actor: actor, Action: ActionUserDeleted,
			TargetID: u.ID, TargetName: u.Name})
	})
}

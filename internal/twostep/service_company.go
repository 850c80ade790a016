package twostep

import (
	"context"
)

// CreateCompany creates a company with the starting settings. Only callers
// that are not limited to one company may.
func (s *Directory) CreateCompany(ctx context.Context, c Caller, name string) (Company, error) {
	if c.Scope != "" {
		return Company{}, &Error{Code: CodeForbidden, Message: "this API key is limited to one company and cannot create companies"}
	}
	if c.UserID != "" {
		return Company{}, Invalid(ActorField, "%s cannot name a user of a company that does not exist yet", ActorField)
	}
	name, err := cleanText("name", name, maxNameLen, false)
	if err != nil {
		return Company{}, err
	}
	id, err := newID(s.rand, prefixCompany)
	if err != nil {
		return Company{}, Internal(err)
	}
	var co Company
	err = s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		co = Company{ID: id, Name: name, CreatedAt: now, Settings: NewSettings(now)}
		return tx.CreateCompany(ctx, co)
	})
	return co, err
}

// Company reads a company with its settings.
func (s *Directory) Company(ctx context.Context, c Caller, id string) (Company, error) {
	var co Company
	err := s.view(ctx, func(tx Tx) error {
		var err error
		co, _, err = s.company(ctx, tx, c, id, false)
		return err
	})
	return co, err
}

// UpdateSettings applies a partial update to a company's settings and
// writes one audit event per changed field, in the same transaction. A
// patch that changes nothing writes nothing.
func (s *Directory) UpdateSettings(ctx context.Context, c Caller, companyID string, p SettingsPatch) (Settings, error) {
	var out Settings
	err := s.update(ctx, func(tx Tx) error {
		co, actor, err := s.company(ctx, tx, c, companyID, true)
		if err != nil {
			return err
		}
		next, changes, err := p.apply(co.Settings)
		if err != nil {
			return err
		}
		out = co.Settings
		if len(changes) == 0 {
			return nil
		}
		if err := c.mayChange(changes); err != nil {
			return err
		}
		if next.UpdatedAt, err = tx.Now(ctx); err != nil {
			return err
		}
		next.startStrong(next.UpdatedAt)
		if err := tx.UpdateSettings(ctx, companyID, next); err != nil {
			return err
		}
		if err := forgetDevicesTurnedOff(ctx, tx, companyID, co.Settings, next); err != nil {
			return err
		}
		for _, ch := range changes {
			e := AuditEvent{CompanyID: companyID, Time: next.UpdatedAt, Actor: actor, Action: ch.action, Details: details(ch.Change)}
			if err := s.audit(ctx, tx, c, e); err != nil {
				return err
			}
		}
		out = next
		return nil
	})
	return out, err
}

// costSettings are the settings that decide what the operator pays or
// where sign-ins may return to: only the operator may change them, not a
// key limited to the company nor its admins.
var costSettings = map[string]bool{"sms_daily_cap": true, "sms_countries": true, "allowed_return_origins": true}

// operator reports whether the caller is the operator: an API key not
// limited to one company, or Twostep itself (the CLI). A console admin
// is always limited to their company.
func (c Caller) operator() bool { return c.Scope == "" }

// mayChange refuses changes to cost settings from anyone but the operator.
func (c Caller) mayChange(changes []settingChange) error {
	if c.operator() {
		return nil
	}
	for _, ch := range changes {
		if costSettings[ch.Field] {
			return &Error{Code: CodeForbidden, Field: ch.Field,
				Message: ch.Field + " can be changed only with an operator API key (one not limited to a company)"}
		}
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/twostep/twostep/internal/twostep"
)

// CreateCompany stores a new company with its settings.
func (t *Tx) CreateCompany(ctx context.Context, c twostep.Company) error {
	s := c.Settings
	origins, err := json.Marshal(s.AllowedReturnOrigins)
	if err != nil {
		return err
	}
	countries, err := json.Marshal(s.SMSCountries)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `
		INSERT INTO companies (id, name, created_at, delivery_method, contact_name, contact_email,
			contact_phone, default_web, default_manager, sms_daily_cap, allowed_return_origins,
			sms_countries, settings_updated_at, authenticators_totp, authenticators_webauthn,
			strong_web, strong_manager, strong_web_since, strong_manager_since, enrollment_grace_days,
			remember_web_days, remember_manager_days, notify_failed_attempts, notify_locked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		c.ID, c.Name, micros(c.CreatedAt), s.DeliveryMethod, s.ResponsibleContact.Name,
		s.ResponsibleContact.Email, s.ResponsibleContact.Phone, s.Defaults.Web, s.Defaults.Manager,
		s.SMSDailyCap, string(origins), string(countries), micros(s.UpdatedAt),
		s.Authenticators.TOTP, s.Authenticators.WebAuthn, s.StrongAuthentication.Web,
		s.StrongAuthentication.Manager, micros(s.StrongSince.Web), micros(s.StrongSince.Manager),
		s.EnrollmentGraceDays, s.RememberDeviceDays.Web, s.RememberDeviceDays.Manager,
		s.NotifyResponsible.FailedAttempts, s.NotifyResponsible.Locked)
	return t.fail(err)
}

// selectCompany reads a company; callers add the WHERE clause.
const selectCompany = `
	SELECT id, name, created_at, delivery_method, contact_name, contact_email, contact_phone,
		default_web, default_manager, sms_daily_cap, allowed_return_origins, sms_countries,
		settings_updated_at, authenticators_totp, authenticators_webauthn, strong_web,
		strong_manager, strong_web_since, strong_manager_since, enrollment_grace_days,
		remember_web_days, remember_manager_days, notify_failed_attempts, notify_locked
	FROM companies`

// Company reads a company and its settings.
func (t *Tx) Company(ctx context.Context, id string) (twostep.Company, error) {
	return t.scanCompany(t.queryRow(ctx, selectCompany+` WHERE id = $1`, id))
}

// CompanyForUpdate reads a company and locks its row.
func (t *Tx) CompanyForUpdate(ctx context.Context, id string) (twostep.Company, error) {
	return t.scanCompany(t.queryRow(ctx, selectCompany+` WHERE id = $1`+t.d.lockRow, id))
}

func (t *Tx) scanCompany(row *sql.Row) (twostep.Company, error) {
	var (
		c                   twostep.Company
		s                   = &c.Settings
		created, updated    int64
		strongWeb, strongMg int64
		origins, countries  string
	)
	err := row.Scan(&c.ID, &c.Name, &created, &s.DeliveryMethod, &s.ResponsibleContact.Name,
		&s.ResponsibleContact.Email, &s.ResponsibleContact.Phone, &s.Defaults.Web, &s.Defaults.Manager,
		&s.SMSDailyCap, &origins, &countries, &updated, &s.Authenticators.TOTP, &s.Authenticators.WebAuthn,
		&s.StrongAuthentication.Web, &s.StrongAuthentication.Manager, &strongWeb, &strongMg,
		&s.EnrollmentGraceDays, &s.RememberDeviceDays.Web, &s.RememberDeviceDays.Manager,
		&s.NotifyResponsible.FailedAttempts, &s.NotifyResponsible.Locked)
	if err != nil {
		return c, t.fail(err)
	}
	if err := json.Unmarshal([]byte(origins), &s.AllowedReturnOrigins); err != nil {
		return c, fmt.Errorf("company %s: allowed_return_origins: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(countries), &s.SMSCountries); err != nil {
		return c, fmt.Errorf("company %s: sms_countries: %w", c.ID, err)
	}
	c.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	s.StrongSince.Web, s.StrongSince.Manager = fromMicros(strongWeb), fromMicros(strongMg)
	return c, nil
}

// UpdateSettings stores a company's settings.
func (t *Tx) UpdateSettings(ctx context.Context, companyID string, s twostep.Settings) error {
	origins, err := json.Marshal(s.AllowedReturnOrigins)
	if err != nil {
		return err
	}
	countries, err := json.Marshal(s.SMSCountries)
	if err != nil {
		return err
	}
	return t.execOne(ctx, `
		UPDATE companies SET delivery_method = $2, contact_name = $3, contact_email = $4,
			contact_phone = $5, default_web = $6, default_manager = $7, sms_daily_cap = $8,
			allowed_return_origins = $9, sms_countries = $10, settings_updated_at = $11,
			authenticators_totp = $12, authenticators_webauthn = $13, strong_web = $14,
			strong_manager = $15, strong_web_since = $16, strong_manager_since = $17,
			enrollment_grace_days = $18, remember_web_days = $19, remember_manager_days = $20,
			notify_failed_attempts = $21, notify_locked = $22
		WHERE id = $1`,
		companyID, s.DeliveryMethod, s.ResponsibleContact.Name, s.ResponsibleContact.Email,
		s.ResponsibleContact.Phone, s.Defaults.Web, s.Defaults.Manager, s.SMSDailyCap,
		string(origins), string(countries), micros(s.UpdatedAt), s.Authenticators.TOTP,
		s.Authenticators.WebAuthn, s.StrongAuthentication.Web, s.StrongAuthentication.Manager,
		micros(s.StrongSince.Web), micros(s.StrongSince.Manager), s.EnrollmentGraceDays,
		s.RememberDeviceDays.Web, s.RememberDeviceDays.Manager,
		s.NotifyResponsible.FailedAttempts, s.NotifyResponsible.Locked)
}

// CompanyIDs lists company ids in order, after the given one.
func (t *Tx) CompanyIDs(ctx context.Context, after string, limit int) ([]string, error) {
	rows, err := t.query(ctx, `SELECT id FROM companies WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, t.fail(err)
		}
		ids = append(ids, id)
	}
	return ids, t.fail(rows.Err())
}

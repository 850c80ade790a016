package twostep

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// Company is one tenant of the platform.
type Company struct {
	ID        string
	Name      string
	CreatedAt time.Time
	Settings  Settings
}

// DeliveryMethod is how a company's codes are delivered (the seed's
// "Authentication code delivery").
type DeliveryMethod string

const (
	// SMSThenEmail sends the first code by SMS; after a failed attempt the
	// user may ask for the next code by email.
	SMSThenEmail DeliveryMethod = "sms_then_email"
	// EmailOnly sends codes only by email. New companies start here.
	EmailOnly DeliveryMethod = "email_only"
)

// Contact is the person users are told to contact about sign-in problems.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// IsZero reports whether no contact detail is set.
func (c Contact) IsZero() bool { return c == Contact{} }

// Defaults say whether new users get 2FA per app.
type Defaults struct {
	Web     bool `json:"web"`
	Manager bool `json:"manager"`
}

// For returns the default for one app.
func (d Defaults) For(app App) bool {
	if app == AppManager {
		return d.Manager
	}
	return d.Web
}

// Settings are a company's 2FA settings: the seed's General and Default
// settings plus the operational limits a real service needs.
type Settings struct {
	DeliveryMethod       DeliveryMethod
	ResponsibleContact   Contact
	Defaults             Defaults
	SMSDailyCap          int
	AllowedReturnOrigins []string
	// SMSCountries are the regions (ISO 3166 codes, like LV) whose phone
	// numbers may get codes by SMS; empty allows every region. Numbers
	// elsewhere get their codes by email: a guard against SMS pumping to
	// expensive destinations.
	SMSCountries []string
	// The stronger authenticators (see strong.go): which kinds users may
	// add and use, the apps that accept only those, when each app began
	// to, and how long users without one may still use a sent code.
	Authenticators       AuthenticatorKinds
	StrongAuthentication Defaults
	StrongSince          StrongSince
	EnrollmentGraceDays  int
	// RememberDeviceDays is how long, per app, a browser the user asked to
	// be remembered in skips the second step; 0 turns it off.
	RememberDeviceDays AppDays
	// NotifyResponsible: which troubles of a user the responsible
	// contact is emailed about (notify.go).
	NotifyResponsible NotifyResponsible
	UpdatedAt         time.Time
}

// DefaultSMSDailyCap is a new company's daily SMS limit.
const DefaultSMSDailyCap = 1000

// maxSMSDailyCap bounds the cap so that a typo cannot open the gates.
const maxSMSDailyCap = 1_000_000

// maxReturnOrigins bounds the allowlist.
const maxReturnOrigins = 50

// NewSettings returns the settings a new company starts with.
func NewSettings(now time.Time) Settings {
	return Settings{
		DeliveryMethod:       EmailOnly,
		SMSDailyCap:          DefaultSMSDailyCap,
		AllowedReturnOrigins: []string{},
		SMSCountries:         []string{},
		Authenticators:       AuthenticatorKinds{TOTP: true, WebAuthn: true},
		EnrollmentGraceDays:  DefaultEnrollmentGraceDays,
		NotifyResponsible:    NotifyResponsible{FailedAttempts: true, Locked: true},
		UpdatedAt:            now,
	}
}

// SettingsPatch is a partial update of Settings; unset fields stay as they are.
type SettingsPatch struct {
	DeliveryMethod       Optional[DeliveryMethod]          `json:"delivery_method"`
	ResponsibleContact   Optional[ContactPatch]            `json:"responsible_contact"` // null clears it all
	Defaults             Optional[DefaultsPatch]           `json:"defaults"`
	SMSDailyCap          Optional[int]                     `json:"sms_daily_cap"`
	AllowedReturnOrigins Optional[[]string]                `json:"allowed_return_origins"`
	SMSCountries         Optional[[]string]                `json:"sms_countries"`
	Authenticators       Optional[AuthenticatorKindsPatch] `json:"authenticators"`
	StrongAuthentication Optional[DefaultsPatch]           `json:"strong_authentication"`
	EnrollmentGraceDays  Optional[int]                     `json:"enrollment_grace_days"`
	RememberDeviceDays   Optional[AppDaysPatch]            `json:"remember_device_days"`
	NotifyResponsible    Optional[NotifyResponsiblePatch]  `json:"notify_responsible"`
}

// ContactPatch is a partial update of Contact; null or "" clears a field.
type ContactPatch struct {
	Name  Optional[string] `json:"name"`
	Email Optional[string] `json:"email"`
	Phone Optional[string] `json:"phone"`
}

// DefaultsPatch is a partial update of Defaults.
type DefaultsPatch struct {
	Web     Optional[bool] `json:"web"`
	Manager Optional[bool] `json:"manager"`
}

// Change is one field's change, kept in the audit log as details.
type Change struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// settingChange is a Change with the audit action it belongs to.
type settingChange struct {
	action Action
	Change
}

// apply validates p against s and returns the new settings and one change
// per field whose value differs. Nothing is changed when an error returns.
func (p SettingsPatch) apply(s Settings) (Settings, []settingChange, error) {
	next := s
	next.AllowedReturnOrigins = slices.Clone(s.AllowedReturnOrigins)
	next.SMSCountries = slices.Clone(s.SMSCountries)
	var changes []settingChange
	general := func(field string, from, to any) {
		changes = append(changes, settingChange{ActionSettingsGeneralChanged, Change{field, from, to}})
	}

	if v, ok, err := p.DeliveryMethod.required("delivery_method"); err != nil {
		return s, nil, err
	} else if ok {
		if v != SMSThenEmail && v != EmailOnly {
			return s, nil, Invalid("delivery_method", "delivery_method must be %q or %q", SMSThenEmail, EmailOnly)
		}
		if v != s.DeliveryMethod {
			general("delivery_method", s.DeliveryMethod, v)
			next.DeliveryMethod = v
		}
	}

	if c, ok, err := p.ResponsibleContact.get("responsible_contact"); err != nil {
		return s, nil, err
	} else if ok {
		if p.ResponsibleContact.Null {
			c = ContactPatch{Some(""), Some(""), Some("")}
		}
		fields := []struct {
			name  string
			patch Optional[string]
			dst   *string
			clean func(field, s string) (string, error)
		}{
			{"responsible_contact.name", c.Name, &next.ResponsibleContact.Name, func(f, s string) (string, error) { return cleanText(f, s, maxNameLen, true) }},
			{"responsible_contact.email", c.Email, &next.ResponsibleContact.Email, NormalizeEmail},
			{"responsible_contact.phone", c.Phone, &next.ResponsibleContact.Phone, func(f, s string) (string, error) { return NormalizePhone(f, s, AnyPhone) }},
		}
		for _, f := range fields {
			raw, ok, err := f.patch.get(f.name) // null gives "", which clears
			if err != nil {
				return s, nil, err
			}
			if !ok {
				continue
			}
			v, err := f.clean(f.name, raw)
			if err != nil {
				return s, nil, err
			}
			if v != *f.dst {
				general(f.name, orNull(*f.dst), orNull(v))
				*f.dst = v
			}
		}
	}

	if d, ok, err := p.Defaults.required("defaults"); err != nil {
		return s, nil, err
	} else if ok {
		err := applyBools([]boolField{
			{"defaults.web", d.Web, &next.Defaults.Web},
			{"defaults.manager", d.Manager, &next.Defaults.Manager},
		}, func(field string, from, to any) {
			changes = append(changes, settingChange{ActionSettingsDefaultsChanged, Change{field, from, to}})
		})
		if err != nil {
			return s, nil, err
		}
	}

	if v, ok, err := p.SMSDailyCap.required("sms_daily_cap"); err != nil {
		return s, nil, err
	} else if ok {
		if v < 0 || v > maxSMSDailyCap {
			return s, nil, Invalid("sms_daily_cap", "sms_daily_cap must be between 0 and %d", maxSMSDailyCap)
		}
		if v != s.SMSDailyCap {
			general("sms_daily_cap", s.SMSDailyCap, v)
			next.SMSDailyCap = v
		}
	}

	if list, ok, err := p.AllowedReturnOrigins.get("allowed_return_origins"); err != nil {
		return s, nil, err
	} else if ok {
		origins, err := normalizeOrigins(list) // null clears
		if err != nil {
			return s, nil, err
		}
		if !slices.Equal(origins, s.AllowedReturnOrigins) {
			general("allowed_return_origins", s.AllowedReturnOrigins, origins)
			next.AllowedReturnOrigins = origins
		}
	}
	if list, ok, err := p.SMSCountries.get("sms_countries"); err != nil {
		return s, nil, err
	} else if ok {
		regions, err := normalizeRegions(list) // null clears
		if err != nil {
			return s, nil, err
		}
		if !slices.Equal(regions, s.SMSCountries) {
			general("sms_countries", s.SMSCountries, regions)
			next.SMSCountries = regions
		}
	}
	if err := p.applyStrong(s, &next, general); err != nil {
		return s, nil, err
	}
	if err := p.applyRemember(&next, general); err != nil {
		return s, nil, err
	}
	if err := p.applyNotify(&next, general); err != nil {
		return s, nil, err
	}
	return next, changes, nil
}

// boolField is one switch of a settings patch and the setting it sets.
type boolField struct {
	name  string
	patch Optional[bool]
	dst   *bool
}

// applyBools sets the switches the patch names, telling change of each
// one whose value differs.
func applyBools(fields []boolField, change func(field string, from, to any)) error {
	for _, f := range fields {
		v, ok, err := f.patch.required(f.name)
		if err != nil {
			return err
		}
		if ok && v != *f.dst {
			change(f.name, *f.dst, v)
			*f.dst = v
		}
	}
	return nil
}

// normalizeRegions checks, upper-cases, sorts and deduplicates region codes.
func normalizeRegions(in []string) ([]string, error) {
	if len(in) > 250 {
		return nil, Invalid("sms_countries", "sms_countries may hold at most 250 regions")
	}
	out := make([]string, 0, len(in))
	for _, r := range in {
		r = strings.ToUpper(strings.TrimSpace(r))
		if !knownRegion(r) {
			return nil, Invalid("sms_countries", "sms_countries must hold ISO 3166 region codes like LV; %q is not one", r)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// orNull shows an unset text value as null in audit details, as the API
// shows unset fields.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// normalizeOrigins checks, normalises, sorts and deduplicates origins.
func normalizeOrigins(in []string) ([]string, error) {
	if len(in) > maxReturnOrigins {
		return nil, Invalid("allowed_return_origins", "allowed_return_origins may hold at most %d origins", maxReturnOrigins)
	}
	out := make([]string, 0, len(in))
	for _, o := range in {
		n, err := NormalizeOrigin("allowed_return_origins", o)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Optional is a field of a partial update: absent (Set false), null
// (Set and Null) or a value. A value of the wrong JSON type is kept as a
// mistake that get and required report with the field's name: decoding
// errors from inside an UnmarshalJSON carry no field path in every Go
// version, so the field is named where it is read.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
	wrong string // the JSON type that came instead of T's, if one did
}

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// UnmarshalJSON records that the field was present. Objects inside refuse
// unknown fields, as the outer decoder does.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&o.Value)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		o.wrong = te.Type.Kind().String()
		return nil
	}
	return err
}

// get returns the field's value, zero for null, and whether it was set.
func (o Optional[T]) get(field string) (T, bool, error) {
	if o.wrong != "" {
		var zero T
		return zero, false, Invalid(field, "%s must be %s", field, KindWords(o.wrong))
	}
	return o.Value, o.Set, nil
}

// KindWords names a Go kind the way a JSON client thinks of it.
func KindWords(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "a whole number in range"
	case kind == "slice":
		return "an array"
	case kind == "struct", kind == "map":
		return "an object"
	}
	return "of another type"
}

// required returns the value of a field that may be absent but not null.
func (o Optional[T]) required(field string) (T, bool, error) {
	if o.wrong != "" {
		return o.get(field)
	}
	if o.Null {
		var zero T
		return zero, false, Invalid(field, "%s must not be null", field)
	}
	return o.Value, o.Set, nil
}

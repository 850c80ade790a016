package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/twostep"
)

// companyJSON is a company as the API shows it.
type companyJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	CreatedAt string       `json:"created_at"`
	Settings  settingsJSON `json:"settings"`
}

// settingsJSON is a company's settings as the API shows them.
type settingsJSON struct {
	DeliveryMethod       twostep.DeliveryMethod     `json:"delivery_method"`
	ResponsibleContact   contactJSON                `json:"responsible_contact"`
	Defaults             twostep.Defaults           `json:"defaults"`
	SMSDailyCap          int                        `json:"sms_daily_cap"`
	AllowedReturnOrigins []string                   `json:"allowed_return_origins"`
	SMSCountries         []string                   `json:"sms_countries"`
	Authenticators       twostep.AuthenticatorKinds `json:"authenticators"`
	StrongAuthentication twostep.Defaults           `json:"strong_authentication"`
	EnrollmentGraceDays  int                        `json:"enrollment_grace_days"`
	RememberDeviceDays   twostep.AppDays            `json:"remember_device_days"`
	NotifyResponsible    twostep.NotifyResponsible  `json:"notify_responsible"`
	UpdatedAt            string                     `json:"updated_at"`
}

// contactJSON shows unset contact details as null.
type contactJSON struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
}

func toContactJSON(c twostep.Contact) contactJSON {
	return contactJSON{optional(c.Name), optional(c.Email), optional(c.Phone)}
}

func toCompanyJSON(c twostep.Company) companyJSON {
	return companyJSON{ID: c.ID, Name: c.Name, CreatedAt: formatTime(c.CreatedAt), Settings: toSettingsJSON(c.Settings)}
}

func toSettingsJSON(s twostep.Settings) settingsJSON {
	origins := s.AllowedReturnOrigins
	if origins == nil {
		origins = []string{}
	}
	return settingsJSON{
		DeliveryMethod:       s.DeliveryMethod,
		ResponsibleContact:   toContactJSON(s.ResponsibleContact),
		Defaults:             s.Defaults,
		SMSDailyCap:          s.SMSDailyCap,
		AllowedReturnOrigins: origins,
		SMSCountries:         nonNil(s.SMSCountries),
		Authenticators:       s.Authenticators,
		StrongAuthentication: s.StrongAuthentication,
		EnrollmentGraceDays:  s.EnrollmentGraceDays,
		RememberDeviceDays:   s.RememberDeviceDays,
		NotifyResponsible:    s.NotifyResponsible,
		UpdatedAt:            formatTime(s.UpdatedAt),
	}
}

// nonNil shows a missing list as [], not null.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func (s *Server) createCompany(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	co, err := s.svc.CreateCompany(r.Context(), c, in.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/companies/"+co.ID)
	writeJSON(w, http.StatusCreated, toCompanyJSON(co))
	return nil
}

func (s *Server) getCompany(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	co, err := s.svc.Company(r.Context(), c, r.PathValue("company"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCompanyJSON(co))
	return nil
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	co, err := s.svc.Company(r.Context(), c, r.PathValue("company"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSettingsJSON(co.Settings))
	return nil
}

func (s *Server) patchSettings(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var p twostep.SettingsPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	settings, err := s.svc.UpdateSettings(r.Context(), c, r.PathValue("company"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSettingsJSON(settings))
	return nil
}

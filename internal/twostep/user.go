package twostep

import (
	"strings"
	"time"
)

// App is one of the platform's applications that 2FA is switched for.
type App string

// The two applications of the seed.
const (
	AppWeb     App = "web"     // the Web application
	AppManager App = "manager" // the Manager app
)

// Apps lists every App in display order.
var Apps = []App{AppWeb, AppManager}

// ParseApp checks an app name.
func ParseApp(field, s string) (App, error) {
	switch App(s) {
	case AppWeb, AppManager:
		return App(s), nil
	}
	return "", Invalid(field, "%s must be %q or %q", field, AppWeb, AppManager)
}

// Title is the app's name as the seed writes it.
func (a App) Title() string {
	if a == AppManager {
		return "Manager app"
	}
	return "Web application"
}

// Role is a user's role in their company.
type Role string

// The roles.
const (
	RoleMember Role = "member"
	RoleAdmin  Role = "admin"
)

// TwoFA says, per app, whether a user must pass the second step.
type TwoFA struct {
	Web     bool `json:"web"`
	Manager bool `json:"manager"`
}

// For returns the switch of one app.
func (t TwoFA) For(app App) bool {
	if app == AppManager {
		return t.Manager
	}
	return t.Web
}

// set returns t with one app's switch set.
func (t TwoFA) set(app App, on bool) TwoFA {
	if app == AppManager {
		t.Manager = on
	} else {
		t.Web = on
	}
	return t
}

// User is a person of a company who signs in to the platform's apps.
type User struct {
	ID         string
	CompanyID  string
	ExternalID string // the platform's own id for the user; unique per company
	Name       string
	Email      string
	Phone      string // E.164
	Role       Role
	TwoFA      TwoFA
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// HasFactors is the store's hint that the user may have an
	// authenticator or recovery codes: never false while they have one.
	// It is kept by RefreshFactors, not by UpdateUser.
	HasFactors bool
}

// SortKey is the key users are listed by.
func (u User) SortKey() string { return strings.ToLower(u.Name) }

// SearchText is what a list's q is matched against, in lower case.
func (u User) SearchText() string {
	return strings.ToLower(strings.Join([]string{u.Name, u.Email, u.ExternalID, u.Phone}, "\n"))
}

// NewUser is the input for creating a user. The optional details may be
// null, which means none.
type NewUser struct {
	ExternalID string               `json:"external_id" nullable:"true"`
	Name       string               `json:"name"`
	Email      string               `json:"email" nullable:"true"`
	Phone      string               `json:"phone" nullable:"true"`
	Role       Role                 `json:"role"`
	TwoFA      Optional[TwoFAPatch] `json:"twofa"` // unset apps take the company's defaults
}

// UserPatch is a partial update of a user; null clears an optional field.
type UserPatch struct {
	ExternalID Optional[string]     `json:"external_id"`
	Name       Optional[string]     `json:"name"`
	Email      Optional[string]     `json:"email"`
	Phone      Optional[string]     `json:"phone"`
	Role       Optional[Role]       `json:"role"`
	TwoFA      Optional[TwoFAPatch] `json:"twofa"`
}

// TwoFAPatch sets some of a user's per-app switches.
type TwoFAPatch struct {
	Web     Optional[bool] `json:"web"`
	Manager Optional[bool] `json:"manager"`
}

// applyTwoFA returns t with the patch applied.
func applyTwoFA(o Optional[TwoFAPatch], t TwoFA) (TwoFA, error) {
	p, ok, err := o.required("twofa")
	if err != nil || !ok {
		return t, err
	}
	for _, app := range Apps {
		o := p.Web
		if app == AppManager {
			o = p.Manager
		}
		v, ok, err := o.required("twofa." + string(app))
		if err != nil {
			return t, err
		}
		if ok {
			t = t.set(app, v)
		}
	}
	return t, nil
}

// validate checks and normalises the fields every user has.
func (u *User) validate() error {
	var err error
	if u.Name, err = cleanText("name", u.Name, maxNameLen, false); err != nil {
		return err
	}
	if u.ExternalID, err = cleanText("external_id", u.ExternalID, maxExternalIDLen, true); err != nil {
		return err
	}
	if u.Email, err = NormalizeEmail("email", u.Email); err != nil {
		return err
	}
	if u.Phone, err = NormalizePhone("phone", u.Phone, MobilePhone); err != nil {
		return err
	}
	switch u.Role {
	case "":
		u.Role = RoleMember
	case RoleMember, RoleAdmin:
	default:
		return Invalid("role", "role must be %q or %q", RoleMember, RoleAdmin)
	}
	return nil
}

// userChanges lists the changes between two versions of a user, for the
// audit log, leaving out the 2FA switches, which have events of their own.
func userChanges(from, to User) []Change {
	var out []Change
	add := func(field string, a, b string) {
		if a != b {
			out = append(out, Change{field, orNull(a), orNull(b)})
		}
	}
	add("external_id", from.ExternalID, to.ExternalID)
	add("name", from.Name, to.Name)
	add("email", from.Email, to.Email)
	add("phone", from.Phone, to.Phone)
	add("role", string(from.Role), string(to.Role))
	return out
}

// UserFilter selects a page of a company's users.
type UserFilter struct {
	Query  string // matched against name, email, external id and phone
	Cursor string
	Limit  int
}

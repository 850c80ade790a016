package twostep

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for the partial updates the API decodes from request
// bodies: a patch either fails with an invalid_value *Error or gives a
// result that the same patch no longer changes.

// wantInvalidAny fails t unless err is an invalid_value *Error on some field.
func wantInvalidAny(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidValue || e.Field == "" {
		t.Fatalf("error %#v is not invalid_value on a field", err)
	}
}

func FuzzSettingsPatch(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"delivery_method":"sms_then_email"}`, `{"delivery_method":null}`, `{"delivery_method":"email_only"}`,
		`{"responsible_contact":{"name":"Rita Berg","email":"Rita@ACME.com","phone":"+371 2000 0001"}}`,
		`{"responsible_contact":null}`, `{"responsible_contact":{"name":null,"email":""}}`,
		`{"responsible_contact":{"nickname":"x"}}`, `{"defaults":{"web":true,"manager":null}}`, `{"defaults":null}`,
		`{"sms_daily_cap":0}`, `{"sms_daily_cap":1000001}`, `{"sms_daily_cap":-1}`, `{"sms_daily_cap":1e300}`,
		`{"sms_daily_cap":99999999999999999999999}`, `{"allowed_return_origins":["HTTPS://App.Example.com:443/","http://[::1]:80"]}`,
		`{"allowed_return_origins":null}`, `{"allowed_return_origins":["https://a.test","https://a.test"]}`,
		`{"responsible_contact":{"name":"=HYPERLINK(\"x\")","phone":"+1 800 555 0100"}}`,
		`{"defaults":{"web":{"web":{"web":true}}}}`, `{"responsible_contact":{"name":"\u0000"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p SettingsPatch
		if json.Unmarshal(b, &p) != nil {
			return
		}
		s0 := NewSettings(time.Unix(0, 0))
		next, changes, err := p.apply(s0)
		if err != nil {
			wantInvalidAny(t, err)
			return
		}
		if (len(changes) == 0) != reflect.DeepEqual(next, s0) {
			t.Fatalf("patch %s: %d changes but settings %+v from %+v", b, len(changes), next, s0)
		}
		for _, c := range changes {
			if reflect.DeepEqual(c.From, c.To) {
				t.Fatalf("patch %s: change %+v changes nothing", b, c)
			}
		}
		checkSettings(t, b, next)
		again, changes, err := p.apply(next)
		if err != nil || len(changes) != 0 || !reflect.DeepEqual(again, next) {
			t.Fatalf("patch %s applied twice: %+v, changes %+v, %v; after once %+v", b, again, changes, err, next)
		}
	})
}

// checkSettings fails t when s breaks a rule of Settings.
func checkSettings(t *testing.T, patch []byte, s Settings) {
	t.Helper()
	if s.DeliveryMethod != SMSThenEmail && s.DeliveryMethod != EmailOnly {
		t.Fatalf("patch %s: delivery method %q", patch, s.DeliveryMethod)
	}
	if s.SMSDailyCap < 0 || s.SMSDailyCap > maxSMSDailyCap {
		t.Fatalf("patch %s: sms_daily_cap %d", patch, s.SMSDailyCap)
	}
	if len(s.AllowedReturnOrigins) > maxReturnOrigins {
		t.Fatalf("patch %s: %d origins", patch, len(s.AllowedReturnOrigins))
	}
	for i, o := range s.AllowedReturnOrigins {
		if n, err := NormalizeOrigin("o", o); err != nil || n != o || (i > 0 && s.AllowedReturnOrigins[i-1] >= o) {
			t.Fatalf("patch %s: origins %q are not normal, sorted and unique", patch, s.AllowedReturnOrigins)
		}
	}
	checkText(t, patch, s.ResponsibleContact.Name, maxNameLen)
}

// checkText fails t when s is not trimmed, valid text of at most max characters.
func checkText(t *testing.T, patch []byte, s string, max int) {
	t.Helper()
	if s != strings.TrimSpace(s) || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max ||
		strings.IndexFunc(s, unicode.IsControl) >= 0 {
		t.Fatalf("patch %s: text %q", patch, s)
	}
}

func FuzzUserPatch(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"name":"Anna Ozola"}`, `{"name":null}`, `{"name":""}`, `{"name":"  Anna  "}`, `{"role":"admin"}`,
		`{"role":""}`, `{"role":"root"}`, `{"role":null}`, `{"email":"Anna@ACME.COM"}`, `{"email":null}`,
		`{"phone":"+371 2000 0002"}`, `{"phone":"+1 800 555 0100"}`, `{"phone":"+371 6700 0001"}`,
		`{"external_id":"ext-1"}`, `{"external_id":null}`, `{"external_id":"a\u0000b"}`,
		`{"twofa":{"web":true}}`, `{"twofa":{"manager":false,"web":true}}`, `{"twofa":null}`, `{"twofa":{"web":null}}`,
		`{"twofa":{"sms":true}}`, `{"name":"` + strings.Repeat("é", 201) + `"}`, `{"name":"\ud800"}`,
		`{"name":"=1+1","email":"@acme.com","twofa":{"web":[[[[[]]]]]}}`,
	} {
		f.Add([]byte(s))
	}
	base := User{ID: "usr_1", CompanyID: "co_1", ExternalID: "ext-0", Name: "Anna Ozola", Email: "anna@acme.com",
		Phone: "+37120000002", Role: RoleMember, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p UserPatch
		if json.Unmarshal(b, &p) != nil {
			return
		}
		// The fields, as UpdateUser puts them on the user before validating.
		u := base
		for _, fld := range []struct {
			patch Optional[string]
			dst   *string
		}{{p.ExternalID, &u.ExternalID}, {p.Email, &u.Email}, {p.Phone, &u.Phone}} {
			if fld.patch.Set {
				*fld.dst = fld.patch.Value
			}
		}
		if p.Name.Set && !p.Name.Null {
			u.Name = p.Name.Value
		}
		if p.Role.Set && !p.Role.Null {
			u.Role = p.Role.Value
		}
		if err := u.validate(); err != nil {
			wantInvalidAny(t, err)
		} else {
			checkText(t, b, u.Name, maxNameLen)
			checkText(t, b, u.ExternalID, maxExternalIDLen)
			if u.Name == "" || (u.Role != RoleMember && u.Role != RoleAdmin) {
				t.Fatalf("patch %s: valid user %+v", b, u)
			}
			again := u
			if err := again.validate(); err != nil || again != u {
				t.Fatalf("patch %s: user %+v validates again as %+v, %v", b, u, again, err)
			}
		}

		for _, t0 := range []TwoFA{{}, {Web: true}, {Manager: true}, {Web: true, Manager: true}} {
			t1, err := applyTwoFA(p.TwoFA, t0)
			if err != nil {
				wantInvalidAny(t, err)
				continue
			}
			if !p.TwoFA.Set && t1 != t0 {
				t.Fatalf("patch %s without twofa changed %+v to %+v", b, t0, t1)
			}
			if t2, err := applyTwoFA(p.TwoFA, t1); err != nil || t2 != t1 {
				t.Fatalf("patch %s applied twice to %+v: %+v then %+v, %v", b, t0, t1, t2, err)
			}
		}
	})
}

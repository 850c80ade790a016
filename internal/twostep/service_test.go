package twostep_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// clock is a settable clock for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a service over a fresh store with a platform key's caller.
type fixture struct {
	url   string
	db    *store.DB
	svc   *twostep.Service
	clock *clock
	ctx   context.Context
	// platform is a caller with an API key for every company.
	platform twostep.Caller
}

var auditKey = []byte("test audit key")

// newFixture opens the service over a fresh store at url; options, if
// any, change its Options first.
func newFixture(t *testing.T, url string, options ...func(*twostep.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, url)
	c := &clock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	db.SetClock(c.Now)
	opt := twostep.Options{AuditKey: auditKey, CodeKey: []byte("test code key"),
		OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute, ResendCooldown: 30 * time.Second, Now: c.Now}
	for _, o := range options {
		o(&opt)
	}
	return &fixture{url: url, db: db, clock: c, ctx: ctx, svc: twostep.NewService(db, opt),
		platform: twostep.Caller{KeyID: "key_platform", KeyName: "platform", IP: "192.0.2.1", UserAgent: "test"}}
}

func (f *fixture) company(t *testing.T, name string) twostep.Company {
	t.Helper()
	co, err := f.svc.CreateCompany(f.ctx, f.platform, name)
	if err != nil {
		t.Fatal(err)
	}
	return co
}

func (f *fixture) user(t *testing.T, companyID, name string) twostep.User {
	t.Helper()
	u, err := f.svc.CreateUser(f.ctx, f.platform, companyID, twostep.NewUser{Name: name, Email: "x@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// events returns the company's audit log, newest first.
func (f *fixture) events(t *testing.T, companyID string) []twostep.AuditEvent {
	t.Helper()
	var all []twostep.AuditEvent
	err := f.svc.ExportAudit(f.ctx, f.platform, companyID, twostep.AuditFilter{}, func(e twostep.AuditEvent) error {
		all = append(all, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// wantCode fails t unless err is a *twostep.Error with code and field.
func wantCode(t *testing.T, err error, code twostep.ErrorCode, field string) {
	t.Helper()
	var e *twostep.Error
	if !errors.As(err, &e) || e.Code != code || e.Field != field {
		t.Fatalf("error %v; want code %s on field %q", err, code, field)
	}
}

func patch(t *testing.T, js string) twostep.SettingsPatch {
	t.Helper()
	var p twostep.SettingsPatch
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func details(t *testing.T, e twostep.AuditEvent) twostep.Change {
	t.Helper()
	var c twostep.Change
	if err := json.Unmarshal(e.Details, &c); err != nil {
		t.Fatalf("details %s: %v", e.Details, err)
	}
	return c
}

func TestSettings(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		co := f.company(t, "Acme")

		t.Run("NewCompanyStartsEmailOnlyWithDefaultsOff", func(t *testing.T) {
			s := co.Settings
			if s.DeliveryMethod != twostep.EmailOnly || s.Defaults.Web || s.Defaults.Manager ||
				s.SMSDailyCap != 1000 || !s.ResponsibleContact.IsZero() || len(s.AllowedReturnOrigins) != 0 {
				t.Fatalf("new company settings %+v", s)
			}
		})

		t.Run("PartialUpdateAuditsEachChange", func(t *testing.T) {
			f.clock.Advance(time.Minute)
			s, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t,
				`{"delivery_method":"sms_then_email","responsible_contact":{"name":"Rita Berg","phone":"+371 2000 0001"},"defaults":{"web":true}}`))
			if err != nil {
				t.Fatal(err)
			}
			if s.DeliveryMethod != twostep.SMSThenEmail || s.ResponsibleContact != (twostep.Contact{Name: "Rita Berg", Phone: "+37120000001"}) ||
				!s.Defaults.Web || s.Defaults.Manager || s.SMSDailyCap != 1000 || !s.UpdatedAt.Equal(f.clock.Now()) {
				t.Fatalf("settings after patch %+v", s)
			}
			events := f.events(t, co.ID)
			if len(events) != 4 {
				t.Fatalf("%d events, want 4: %+v", len(events), events)
			}
			want := []struct {
				action   twostep.Action
				field    string
				from, to any
			}{ // newest first
				{twostep.ActionSettingsDefaultsChanged, "defaults.web", false, true},
				{twostep.ActionSettingsGeneralChanged, "responsible_contact.phone", nil, "+37120000001"},
				{twostep.ActionSettingsGeneralChanged, "responsible_contact.name", nil, "Rita Berg"},
				{twostep.ActionSettingsGeneralChanged, "delivery_method", "email_only", "sms_then_email"},
			}
			for i, w := range want {
				e, d := events[i], details(t, events[i])
				if e.Action != w.action || d.Field != w.field || d.From != w.from || d.To != w.to {
					t.Errorf("event %d: %s %+v; want %s %s %v→%v", i, e.Action, d, w.action, w.field, w.from, w.to)
				}
				if e.Actor != (twostep.Actor{Type: twostep.ActorAPIKey, ID: "key_platform", Name: "platform"}) ||
					e.IP != "192.0.2.1" || e.UserAgent != "test" || !e.Time.Equal(f.clock.Now()) {
					t.Errorf("event %d: actor %+v ip %q ua %q time %v", i, e.Actor, e.IP, e.UserAgent, e.Time)
				}
			}
		})

		t.Run("SameValuesWriteNothing", func(t *testing.T) {
			before := f.events(t, co.ID)
			f.clock.Advance(time.Minute)
			s, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"delivery_method":"sms_then_email","defaults":{"web":true}}`))
			if err != nil {
				t.Fatal(err)
			}
			if after := f.events(t, co.ID); len(after) != len(before) {
				t.Fatalf("%d events after a no-op patch, want %d", len(after), len(before))
			}
			if s.UpdatedAt.Equal(f.clock.Now()) {
				t.Fatal("a no-op patch moved updated_at")
			}
		})

		t.Run("InvalidValueChangesNothing", func(t *testing.T) {
			before := f.events(t, co.ID)
			for _, tc := range []struct{ body, field string }{
				{`{"delivery_method":"email_only","sms_daily_cap":-1}`, "sms_daily_cap"},
				{`{"delivery_method":"carrier_pigeon"}`, "delivery_method"},
				{`{"delivery_method":null}`, "delivery_method"},
				{`{"defaults":{"manager":true,"web":null}}`, "defaults.web"},
				{`{"defaults":null}`, "defaults"},
				{`{"responsible_contact":{"email":"not-an-email"}}`, "responsible_contact.email"},
				{`{"responsible_contact":{"name":"Rita\u0007"}}`, "responsible_contact.name"},
				{`{"responsible_contact":{"phone":"12345"}}`, "responsible_contact.phone"},
				{`{"allowed_return_origins":["https://ok.example.com","https://bad.example.com/path"]}`, "allowed_return_origins"},
				{`{"sms_daily_cap":1000001}`, "sms_daily_cap"},
			} {
				_, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, tc.body))
				wantCode(t, err, twostep.CodeInvalidValue, tc.field)
			}
			got, err := f.svc.Company(f.ctx, f.platform, co.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Settings.DeliveryMethod != twostep.SMSThenEmail || got.Settings.Defaults.Manager {
				t.Fatalf("a refused patch changed the settings: %+v", got.Settings)
			}
			if after := f.events(t, co.ID); len(after) != len(before) {
				t.Fatalf("a refused patch wrote %d events", len(after)-len(before))
			}
		})

		t.Run("NullClearsTheContact", func(t *testing.T) {
			s, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"responsible_contact":null}`))
			if err != nil {
				t.Fatal(err)
			}
			if !s.ResponsibleContact.IsZero() {
				t.Fatalf("contact after null: %+v", s.ResponsibleContact)
			}
		})

		t.Run("OriginsAreNormalisedAndSorted", func(t *testing.T) {
			s, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID,
				patch(t, `{"allowed_return_origins":["https://b.example.com/","HTTPS://A.example.com:443","https://b.example.com"]}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.AllowedReturnOrigins; len(got) != 2 || got[0] != "https://a.example.com" || got[1] != "https://b.example.com" {
				t.Fatalf("origins %q", got)
			}
		})

		t.Run("ActorIsTheNamedUser", func(t *testing.T) {
			admin := f.user(t, co.ID, "Rita Berg")
			c := f.platform
			c.UserID = admin.ID
			if _, err := f.svc.UpdateSettings(f.ctx, c, co.ID, patch(t, `{"sms_daily_cap":50}`)); err != nil {
				t.Fatal(err)
			}
			e := f.events(t, co.ID)[0]
			if e.Actor != (twostep.Actor{Type: twostep.ActorUser, ID: admin.ID, Name: "Rita Berg"}) {
				t.Fatalf("actor %+v", e.Actor)
			}
		})

		// What the operator pays for is the operator's to set: a key
		// limited to the company, and the company's console admins, may
		// change every other setting but not these (a company-scoped key
		// once raised its own SMS cap to a million a day).
		t.Run("CostSettingsOnlyForTheOperator", func(t *testing.T) {
			admin := f.user(t, co.ID, "Rita Berg")
			scoped := twostep.Caller{KeyID: "key_acme", KeyName: "acme", Scope: co.ID}
			console := twostep.Caller{Scope: co.ID, UserID: admin.ID}
			before, _ := f.svc.Company(f.ctx, f.platform, co.ID)
			for _, c := range []twostep.Caller{scoped, console} {
				for _, tc := range []struct{ patch, field string }{
					{`{"sms_daily_cap":1000000}`, "sms_daily_cap"},
					{`{"sms_countries":["LV","EE"]}`, "sms_countries"},
					{`{"allowed_return_origins":["https://evil.example"]}`, "allowed_return_origins"},
					{`{"defaults":{"web":true},"sms_daily_cap":999}`, "sms_daily_cap"},
				} {
					_, err := f.svc.UpdateSettings(f.ctx, c, co.ID, patch(t, tc.patch))
					wantCode(t, err, twostep.CodeForbidden, tc.field)
				}
				// Sending a cost setting as it is changes nothing, so it passes.
				same := fmt.Sprintf(`{"sms_daily_cap":%d,"delivery_method":"sms_then_email"}`, before.Settings.SMSDailyCap)
				if _, err := f.svc.UpdateSettings(f.ctx, c, co.ID, patch(t, same)); err != nil {
					t.Fatalf("%+v: the cap as it is: %v", c, err)
				}
			}
			after, _ := f.svc.Company(f.ctx, f.platform, co.ID)
			if after.Settings.SMSDailyCap != before.Settings.SMSDailyCap || after.Settings.Defaults != before.Settings.Defaults ||
				len(after.Settings.SMSCountries) != 0 || !slices.Equal(after.Settings.AllowedReturnOrigins, before.Settings.AllowedReturnOrigins) {
				t.Fatalf("refused patches changed the settings: %+v", after.Settings)
			}
			if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"sms_daily_cap":50}`)); err != nil {
				t.Fatalf("the operator: %v", err)
			}
		})

		t.Run("ActorFromAnotherCompanyIsRefused", func(t *testing.T) {
			other := f.company(t, "Other")
			stranger := f.user(t, other.ID, "Stranger")
			c := f.platform
			c.UserID = stranger.ID
			_, err := f.svc.UpdateSettings(f.ctx, c, co.ID, patch(t, `{"sms_daily_cap":7}`))
			wantCode(t, err, twostep.CodeInvalidValue, twostep.ActorField)
			got, _ := f.svc.Company(f.ctx, f.platform, co.ID)
			if got.Settings.SMSDailyCap != 50 {
				t.Fatalf("cap %d after a refused actor", got.Settings.SMSDailyCap)
			}
		})
	})
}

func TestUsers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		co := f.company(t, "Acme")
		if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"defaults":{"manager":true}}`)); err != nil {
			t.Fatal(err)
		}

		t.Run("NewUserTakesTheCompanyDefaults", func(t *testing.T) {
			u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: "Anna", Phone: "+371 2000 0002"})
			if err != nil {
				t.Fatal(err)
			}
			if u.TwoFA != (twostep.TwoFA{Web: false, Manager: true}) || u.Role != twostep.RoleMember || u.Phone != "+37120000002" {
				t.Fatalf("new user %+v", u)
			}
			var in twostep.NewUser
			json.Unmarshal([]byte(`{"name":"Ben","email":"ben@example.com","twofa":{"web":true}}`), &in)
			u, err = f.svc.CreateUser(f.ctx, f.platform, co.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			if u.TwoFA != (twostep.TwoFA{Web: true, Manager: true}) {
				t.Fatalf("user with twofa.web given: %+v", u.TwoFA)
			}
		})

		t.Run("ChangingDefaultsLeavesExistingUsers", func(t *testing.T) {
			u := f.user(t, co.ID, "Carl")
			if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"defaults":{"manager":false,"web":true}}`)); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.User(f.ctx, f.platform, co.ID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.TwoFA != u.TwoFA {
				t.Fatalf("existing user's switches moved with the defaults: %+v → %+v", u.TwoFA, got.TwoFA)
			}
		})

		t.Run("SwitchIsAudited", func(t *testing.T) {
			u := f.user(t, co.ID, "Dana")
			f.clock.Advance(time.Minute)
			got, err := f.svc.SetTwoFA(f.ctx, f.platform, co.ID, u.ID, twostep.AppManager, true)
			if err != nil {
				t.Fatal(err)
			}
			if !got.TwoFA.Manager || !got.UpdatedAt.Equal(f.clock.Now()) {
				t.Fatalf("after switch: %+v", got)
			}
			e := f.events(t, co.ID)[0]
			d := details(t, e)
			if e.Action != twostep.ActionTwoFAEnabled || e.App != twostep.AppManager || e.TargetID != u.ID ||
				e.TargetName != "Dana" || d.Field != "twofa.manager" || d.From != false || d.To != true {
				t.Fatalf("event %+v %+v", e, d)
			}
			n := len(f.events(t, co.ID))
			if _, err := f.svc.SetTwoFA(f.ctx, f.platform, co.ID, u.ID, twostep.AppManager, true); err != nil {
				t.Fatal(err)
			}
			if len(f.events(t, co.ID)) != n {
				t.Fatal("switching to the value it had wrote an event")
			}
			if _, err := f.svc.SetTwoFA(f.ctx, f.platform, co.ID, u.ID, twostep.AppManager, false); err != nil {
				t.Fatal(err)
			}
			if e := f.events(t, co.ID)[0]; e.Action != twostep.ActionTwoFADisabled || e.App != twostep.AppManager {
				t.Fatalf("event %+v", e)
			}
		})

		t.Run("ExternalIDConflictWritesNothing", func(t *testing.T) {
			if _, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: "Eve", ExternalID: "ext-1"}); err != nil {
				t.Fatal(err)
			}
			n := len(f.events(t, co.ID))
			_, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: "Eve 2", ExternalID: "ext-1"})
			wantCode(t, err, twostep.CodeConflict, "external_id")
			if len(f.events(t, co.ID)) != n {
				t.Fatal("a refused user was audited")
			}
		})

		t.Run("UpdateAuditsFieldsAndSwitches", func(t *testing.T) {
			u := f.user(t, co.ID, "Fred")
			var p twostep.UserPatch
			json.Unmarshal([]byte(`{"name":"Fred Ozols","email":null,"twofa":{"web":false,"manager":true}}`), &p)
			got, err := f.svc.UpdateUser(f.ctx, f.platform, co.ID, u.ID, p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != "Fred Ozols" || got.Email != "" || got.TwoFA.Manager != true {
				t.Fatalf("after update %+v", got)
			}
			var actions []twostep.Action
			for _, e := range f.events(t, co.ID)[:3] {
				actions = append(actions, e.Action)
			}
			want := []twostep.Action{twostep.ActionTwoFAEnabled, twostep.ActionUserUpdated, twostep.ActionUserUpdated}
			if u.TwoFA.Web { // the defaults turned web on; the patch turned it off
				want = []twostep.Action{twostep.ActionTwoFAEnabled, twostep.ActionTwoFADisabled, twostep.ActionUserUpdated}
			}
			for i := range want {
				if actions[i] != want[i] {
					t.Fatalf("actions %v, want %v", actions, want)
				}
			}
		})

		t.Run("InvalidUpdateChangesNothing", func(t *testing.T) {
			u := f.user(t, co.ID, "Gina")
			for body, field := range map[string]string{
				`{"phone":"+44 20 7946 0958"}`: "phone", // a fixed line cannot get SMS
				`{"name":""}`:                  "name",
				`{"name":null}`:                "name",
				`{"role":"owner"}`:             "role",
				`{"email":"gina"}`:             "email",
				`{"twofa":{"web":null}}`:       "twofa.web",
			} {
				var p twostep.UserPatch
				if err := json.Unmarshal([]byte(body), &p); err != nil {
					t.Fatal(err)
				}
				_, err := f.svc.UpdateUser(f.ctx, f.platform, co.ID, u.ID, p)
				wantCode(t, err, twostep.CodeInvalidValue, field)
			}
			got, _ := f.svc.User(f.ctx, f.platform, co.ID, u.ID)
			if got != u {
				t.Fatalf("refused updates changed the user: %+v → %+v", u, got)
			}
		})

		t.Run("DeleteKeepsTheUsersEvents", func(t *testing.T) {
			u := f.user(t, co.ID, "Hugo")
			if err := f.svc.DeleteUser(f.ctx, f.platform, co.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.User(f.ctx, f.platform, co.ID, u.ID)
			wantCode(t, err, twostep.CodeNotFound, "")
			e := f.events(t, co.ID)[0]
			if e.Action != twostep.ActionUserDeleted || e.TargetName != "Hugo" {
				t.Fatalf("event %+v", e)
			}
			err = f.svc.DeleteUser(f.ctx, f.platform, co.ID, u.ID)
			wantCode(t, err, twostep.CodeNotFound, "")
		})
	})
}

func TestTenantIsolation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		a, b := f.company(t, "A"), f.company(t, "B")
		ua, ub := f.user(t, a.ID, "In A"), f.user(t, b.ID, "In B")
		keyA := twostep.Caller{KeyID: "key_a", KeyName: "a", Scope: a.ID}

		if _, err := f.svc.Company(f.ctx, keyA, a.ID); err != nil {
			t.Fatalf("own company: %v", err)
		}
		_, errMissing := f.svc.Company(f.ctx, keyA, "co_missing")
		_, errOther := f.svc.Company(f.ctx, keyA, b.ID)
		wantCode(t, errOther, twostep.CodeNotFound, "")
		if errMissing.Error() != errOther.Error() {
			t.Fatalf("another company's answer %q differs from a missing one's %q", errOther, errMissing)
		}
		_, err := f.svc.User(f.ctx, keyA, b.ID, ub.ID)
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.User(f.ctx, keyA, a.ID, ub.ID) // B's user through A's path
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.SetTwoFA(f.ctx, keyA, b.ID, ub.ID, twostep.AppWeb, true)
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.SetTwoFA(f.ctx, keyA, a.ID, ub.ID, twostep.AppWeb, true)
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.UpdateSettings(f.ctx, keyA, b.ID, patch(t, `{"sms_daily_cap":1}`))
		wantCode(t, err, twostep.CodeNotFound, "")
		_, _, err = f.svc.AuditEvents(f.ctx, keyA, b.ID, twostep.AuditFilter{})
		wantCode(t, err, twostep.CodeNotFound, "")
		err = f.svc.DeleteUser(f.ctx, keyA, a.ID, ub.ID)
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.CreateCompany(f.ctx, keyA, "C")
		wantCode(t, err, twostep.CodeForbidden, "")

		got, err := f.svc.User(f.ctx, f.platform, b.ID, ub.ID)
		if err != nil || got != ub {
			t.Fatalf("B's user after A's attempts: %+v, %v", got, err)
		}
		if n := len(f.events(t, b.ID)); n != 1 { // user.created only
			t.Fatalf("B's log has %d events", n)
		}
		_ = ua
	})
}

// failAuditInserts makes every insert into audit_events fail, as a full
// disk or a crash between the change and its event would.
func failAuditInserts(t *testing.T, url string) (undo func()) {
	t.Helper()
	db := storetest.RawDB(t, url)
	create := []string{`CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected failure'); END`}
	drop := []string{`DROP TRIGGER audit_fail`}
	if storetest.IsPostgres(url) {
		create = []string{
			`CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
			`CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_fail()`,
		}
		drop = []string{`DROP TRIGGER audit_fail ON audit_events`, `DROP FUNCTION audit_fail()`}
	}
	for _, q := range create {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, q := range drop {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestChangeAndAuditEventCommitTogether(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		co := f.company(t, "Acme")
		u := f.user(t, co.ID, "Anna")
		undo := failAuditInserts(t, url)

		_, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"delivery_method":"sms_then_email"}`))
		wantCode(t, err, twostep.CodeInternal, "")
		_, err = f.svc.SetTwoFA(f.ctx, f.platform, co.ID, u.ID, twostep.AppWeb, true)
		wantCode(t, err, twostep.CodeInternal, "")
		_, err = f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: "Ghost", ExternalID: "ghost"})
		wantCode(t, err, twostep.CodeInternal, "")
		err = f.svc.DeleteUser(f.ctx, f.platform, co.ID, u.ID)
		wantCode(t, err, twostep.CodeInternal, "")

		got, _ := f.svc.Company(f.ctx, f.platform, co.ID)
		if got.Settings.DeliveryMethod != twostep.EmailOnly {
			t.Fatal("the settings changed although their audit event failed")
		}
		if gu, err := f.svc.User(f.ctx, f.platform, co.ID, u.ID); err != nil || gu.TwoFA.Web {
			t.Fatalf("the switch changed or the user went although the audit event failed: %+v, %v", gu, err)
		}
		users, _, _ := f.svc.Users(f.ctx, f.platform, co.ID, twostep.UserFilter{})
		if len(users) != 1 {
			t.Fatalf("%d users; the failed creation left one behind", len(users))
		}

		undo()
		if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"delivery_method":"sms_then_email"}`)); err != nil {
			t.Fatal(err)
		}
		if e := f.events(t, co.ID)[0]; e.Action != twostep.ActionSettingsGeneralChanged {
			t.Fatalf("newest event %s", e.Action)
		}
		if brk, err := f.svc.VerifyAudit(f.ctx, nil, twostep.VerifyProgress{}); err != nil || brk != nil {
			t.Fatalf("chain after failed appends: %v, %v", brk, err)
		}
	})
}

func TestVerifyAudit(t *testing.T) {
	// Each case tampers with the third of five events of company A; company
	// B's chain stays intact beside it.
	for _, tc := range []struct {
		name   string
		tamper []string
		seq    int64
	}{
		{"Intact", nil, 0},
		{"EditedEvent", []string{`UPDATE audit_events SET details = '{"field":"defaults.web","from":false,"to":false}' WHERE company_id = $1 AND seq = 3`}, 3},
		{"EditedActor", []string{`UPDATE audit_events SET actor_name = 'Someone else' WHERE company_id = $1 AND seq = 3`}, 3},
		{"DeletedEvent", []string{`DELETE FROM audit_events WHERE company_id = $1 AND seq = 3`}, 4},
		{"ReorderedEvents", []string{
			`UPDATE audit_events SET seq = -1 WHERE company_id = $1 AND seq = 3`,
			`UPDATE audit_events SET seq = 3 WHERE company_id = $1 AND seq = 4`,
			`UPDATE audit_events SET seq = 4 WHERE company_id = $1 AND seq = -1`,
		}, 3},
		{"DeletedNewestEvent", []string{`DELETE FROM audit_events WHERE company_id = $1 AND seq = 5`}, 4},
		{"RewrittenHash", []string{`UPDATE audit_events SET hash = 'x' || substr(hash, 2) WHERE company_id = $1 AND seq = 3`}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, url string) {
				f := newFixture(t, url)
				a, b := f.company(t, "A"), f.company(t, "B")
				for i := range 5 {
					f.clock.Advance(time.Second)
					if _, err := f.svc.UpdateSettings(f.ctx, f.platform, a.ID, patch(t, fmt.Sprintf(`{"defaults":{"web":%t}}`, i%2 == 0))); err != nil {
						t.Fatal(err)
					}
					f.user(t, b.ID, "B user")
				}
				db := storetest.RawDB(t, url)
				for _, q := range tc.tamper {
					if _, err := db.Exec(q, a.ID); err != nil {
						t.Fatal(err)
					}
				}
				var checked int
				companies := map[string]int64{}
				brk, err := f.svc.VerifyAudit(f.ctx, nil, twostep.VerifyProgress{
					Events:  func(n int) { checked += n },
					Company: func(id string, n int64) { companies[id] = n }})
				if err != nil {
					t.Fatal(err)
				}
				if tc.seq == 0 {
					if brk != nil {
						t.Fatalf("intact log reported broken: %v", brk)
					}
					// The progress told is every event, company by company.
					_, heads, err := f.svc.AuditHeads(f.ctx, nil)
					var total int64
					for _, h := range heads {
						total += h.Events
						if companies[h.CompanyID] != h.Events {
							t.Errorf("company %s: told %d events, its head counts %d", h.CompanyID, companies[h.CompanyID], h.Events)
						}
					}
					if err != nil || int64(checked) != total || total < 10 {
						t.Fatalf("progress told %d events checked of %d (%v)", checked, total, err)
					}
					return
				}
				if brk == nil {
					t.Fatal("tampering went unnoticed")
				}
				if brk.CompanyID != a.ID || brk.Seq != tc.seq {
					t.Fatalf("break reported at %v; want company A, seq %d", brk, tc.seq)
				}
			})
		})
	}
}

// TestRevokedKeyStopsWorking revokes a key on one instance while another
// has it cached: the revoking instance refuses it at once, the other one
// once its cache of checked keys runs out, and no later than KeyCacheTTL.
func TestRevokedKeyStopsWorking(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		other := twostep.NewService(f.db, twostep.Options{AuditKey: auditKey, Now: f.clock.Now})
		k, secret, err := f.svc.CreateAPIKey(f.ctx, "platform", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range []*twostep.Service{f.svc, other} {
			if got, err := svc.Authenticate(f.ctx, secret); err != nil || got.ID != k.ID {
				t.Fatalf("new key: %+v, %v", got, err)
			}
		}
		if err := f.svc.RevokeAPIKey(f.ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(f.ctx, secret); err == nil || twostep.AsError(err).Code != twostep.CodeUnauthorized {
			t.Fatalf("revoking instance accepts the key: %v", err)
		}
		if _, err := other.Authenticate(f.ctx, secret); err != nil {
			t.Fatalf("other instance within its cache time: %v", err)
		}
		f.clock.Advance(twostep.KeyCacheTTL)
		if _, err := other.Authenticate(f.ctx, secret); err == nil || twostep.AsError(err).Code != twostep.CodeUnauthorized {
			t.Fatalf("other instance after KeyCacheTTL accepts the key: %v", err)
		}
	})
}

// TestAuditTimeNeverGoesBack appends an event with the clock set back an
// hour, as from an instance whose clock is behind: it is stamped with its
// predecessor's time, so that time follows seq along the chain, and a
// time range still finds it.
func TestAuditTimeNeverGoesBack(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		co := f.company(t, "Acme")
		if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"defaults":{"web":true}}`)); err != nil {
			t.Fatal(err)
		}
		first := f.clock.Now()
		f.clock.Advance(-time.Hour)
		if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"defaults":{"web":false}}`)); err != nil {
			t.Fatal(err)
		}
		events, _, err := f.svc.AuditEvents(f.ctx, f.platform, co.ID, twostep.AuditFilter{Limit: 10})
		if err != nil || len(events) < 2 {
			t.Fatalf("events %v, %v", events, err)
		}
		if !events[0].Time.Equal(first) || events[0].Time.Before(events[1].Time) {
			t.Fatalf("newest event at %v after one at %v, want %v", events[0].Time, events[1].Time, first)
		}
		inRange, _, err := f.svc.AuditEvents(f.ctx, f.platform, co.ID, twostep.AuditFilter{Limit: 10, Since: first})
		if err != nil || len(inRange) != len(events) {
			t.Fatalf("since %v: %d events, want %d (%v)", first, len(inRange), len(events), err)
		}
	})
}

package twostep_test

import (
	"fmt"
	"testing"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestBulkTwoFA changes more users than one batch holds: by name and by
// search, each user changed with one audit event and the admin as actor,
// those who had it so already left alone, unknown ids counted apart, and
// another company's users never touched.
func TestBulkTwoFA(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		co, other := f.company(t, "Acme"), f.company(t, "Other")
		on := twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true), Manager: twostep.Some(true)})
		var ids []string
		for i := range 205 {
			name := fmt.Sprintf("Staff %03d", i)
			if i%50 == 0 {
				name = fmt.Sprintf("Driver %03d", i)
			}
			u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: name, TwoFA: on})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		elsewhere, err := f.svc.CreateUser(f.ctx, f.platform, other.ID, twostep.NewUser{Name: "Staff elsewhere", TwoFA: on})
		if err != nil {
			t.Fatal(err)
		}
		admin := f.platform
		admin.UserID = ids[0]
		events := func(action twostep.Action) int {
			n := 0
			for _, e := range f.events(t, co.ID) {
				if e.Action == action {
					if e.Actor.ID != ids[0] {
						t.Fatalf("a bulk event's actor is %+v", e.Actor)
					}
					n++
				}
			}
			return n
		}

		// Every "Staff" user, across two batches: 200 of them.
		res, err := f.svc.SetTwoFAForUsers(f.ctx, admin, co.ID, twostep.Users{All: true, Query: "Staff"}, twostep.AppManager, false)
		if err != nil || res != (twostep.BulkResult{Changed: 200}) {
			t.Fatalf("all Staff off: %+v, %v", res, err)
		}
		if n := events(twostep.ActionTwoFADisabled); n != 200 {
			t.Fatalf("%d 2fa_disabled events, want 200", n)
		}
		// Again: nothing left to change.
		if res, err = f.svc.SetTwoFAForUsers(f.ctx, admin, co.ID, twostep.Users{All: true, Query: "Staff"}, twostep.AppManager, false); res != (twostep.BulkResult{Unchanged: 200}) || err != nil {
			t.Fatalf("again: %+v, %v", res, err)
		}
		// By name: a Driver, a Staff, another company's user and nobody.
		res, err = f.svc.SetTwoFAForUsers(f.ctx, admin, co.ID, twostep.Users{IDs: []string{ids[50], ids[1], elsewhere.ID, "usr_nobody"}}, twostep.AppManager, false)
		if err != nil || res != (twostep.BulkResult{Changed: 1, Unchanged: 1, Missing: 2}) {
			t.Fatalf("by name: %+v, %v", res, err)
		}
		if u, _ := f.svc.User(f.ctx, f.platform, other.ID, elsewhere.ID); !u.TwoFA.Manager {
			t.Fatal("another company's user was changed")
		}
		if u, _ := f.svc.User(f.ctx, f.platform, co.ID, ids[100]); !u.TwoFA.Manager || !u.TwoFA.Web {
			t.Fatalf("a Driver not picked: %+v", u.TwoFA)
		}
		for _, bad := range []twostep.Users{{}, {IDs: make([]string, twostep.MaxBulkIDs+1)}} {
			if _, err := f.svc.SetTwoFAForUsers(f.ctx, admin, co.ID, bad, twostep.AppWeb, false); twostep.AsError(err).Code != twostep.CodeInvalidValue {
				t.Errorf("%d ids: %v, want invalid_value", len(bad.IDs), err)
			}
		}

		// The defaults (web on, manager on) applied to everyone: each user
		// whose Manager 2FA is off gets it back; one event each.
		var p twostep.SettingsPatch
		p.Defaults = twostep.Some(twostep.DefaultsPatch{Web: twostep.Some(true), Manager: twostep.Some(true)})
		if _, err := f.svc.UpdateSettings(f.ctx, admin, co.ID, p); err != nil {
			t.Fatal(err)
		}
		res, err = f.svc.ApplyDefaults(f.ctx, admin, co.ID)
		if err != nil || res != (twostep.BulkResult{Changed: 201, Unchanged: 4}) {
			t.Fatalf("apply the defaults: %+v, %v", res, err)
		}
		if n := events(twostep.ActionTwoFAEnabled); n != 201 {
			t.Fatalf("%d 2fa_enabled events, want 201", n)
		}
		if brk, err := f.svc.VerifyAudit(f.ctx, nil, twostep.VerifyProgress{}); brk != nil || err != nil {
			t.Fatalf("the chain after bulk changes: %v, %v", brk, err)
		}
	})
}

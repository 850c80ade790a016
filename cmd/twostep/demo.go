package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
)

// demo serves a fresh SQLite database in a temporary directory, with the
// dev senders and a sample company, and prints where to start.
func (e *env) demo(args []string) error {
	fs, load := e.flags("demo")
	cfg, err := parse(fs, load, args, 0)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "twostep-demo-")
	if err != nil {
		return err
	}
	// The demo's data goes when it stops: it was made for this run alone.
	defer os.RemoveAll(dir)
	// The demo's links need the real port, so a port 0 is chosen now.
	if host, port, err := net.SplitHostPort(cfg.Addr); err == nil && port == "0" {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return err
		}
		cfg.Addr = ln.Addr().String()
		ln.Close()
		cfg.PublicURL = "http://" + cfg.Addr
	}
	cfg.DatabaseURL = "sqlite:" + filepath.Join(dir, "twostep.db")
	cfg.SecretFile = filepath.Join(dir, "twostep.key")
	cfg.Email, cfg.SMS = "dev", "dev"
	// The hosted page may return to the demo itself.
	cfg.AllowedReturnOrigins = append(cfg.AllowedReturnOrigins, cfg.PublicURL)
	log := e.jsonLogger(cfg)
	if err := e.runMigrations(cfg, log); err != nil {
		return err
	}
	var d demoData
	return e.run(cfg, log, func(a *app) (*web.Demo, error) {
		var err error
		if d, err = seedDemo(e.ctx, a.svc); err != nil {
			return nil, err
		}
		return &web.Demo{CompanyID: d.Company.ID, UserID: d.Users[1].ID}, nil
	}, func(base string) {
		d.print(e.stdout, cfg.PublicURL, dir)
	})
}

// demoUser is a sample user and whether their 2FA is on.
type demoUser struct {
	Name, Email, Phone string
	Role               twostep.Role
	TwoFA              twostep.TwoFA
	ID                 string
}

// demoData is what the demo made.
type demoData struct {
	Key       string
	Company   twostep.Company
	Users     []demoUser
	SetupLink string // the admin's set-up token
}

// seedDemo makes the sample company: codes by SMS first with email as
// backup, a responsible person, and users with 2FA on and off.
func seedDemo(ctx context.Context, svc *twostep.Service) (demoData, error) {
	var d demoData
	_, key, err := svc.CreateAPIKey(ctx, "demo", "")
	if err != nil {
		return d, err
	}
	d.Key = key
	platform := twostep.Caller{KeyName: "demo", KeyID: "demo"}
	if d.Company, err = svc.CreateCompany(ctx, platform, "Acme Ltd"); err != nil {
		return d, err
	}
	d.Users = []demoUser{
		{Name: "Rita Berg", Email: "rita@acme.test", Phone: "+371 2000 0001", Role: twostep.RoleAdmin, TwoFA: twostep.TwoFA{Web: true, Manager: true}},
		{Name: "Anna Ozola", Email: "anna@acme.test", Phone: "+371 2000 0002", Role: twostep.RoleMember, TwoFA: twostep.TwoFA{Web: true, Manager: true}},
		{Name: "Ben Kalns", Email: "ben@acme.test", Role: twostep.RoleMember, TwoFA: twostep.TwoFA{Web: true}},
		{Name: "Dace Liepa", Email: "dace@acme.test", Phone: "+371 2000 0004", Role: twostep.RoleMember},
	}
	for i, u := range d.Users {
		var in twostep.NewUser
		b, _ := json.Marshal(map[string]any{"name": u.Name, "email": u.Email, "phone": u.Phone, "role": u.Role, "twofa": u.TwoFA})
		if err := json.Unmarshal(b, &in); err != nil {
			return d, err
		}
		created, err := svc.CreateUser(ctx, platform, d.Company.ID, in)
		if err != nil {
			return d, err
		}
		d.Users[i].ID = created.ID
	}
	var p twostep.SettingsPatch
	json.Unmarshal([]byte(`{"delivery_method":"sms_then_email",
		"responsible_contact":{"name":"Rita Berg","email":"rita@acme.test","phone":"+371 2000 0001"}}`), &p)
	admin := platform
	admin.UserID = d.Users[0].ID
	if d.Company.Settings, err = svc.UpdateSettings(ctx, admin, d.Company.ID, p); err != nil {
		return d, err
	}
	if _, d.SetupLink, err = svc.CreateAdmin(ctx, d.Company.ID, d.Users[0].Email); err != nil {
		return d, err
	}
	return d, nil
}

// print says where to click and what to try.
func (d demoData) print(w interface{ Write([]byte) (int, error) }, base, dir string) {
	anna := d.Users[1]
	var b strings.Builder
	fmt.Fprintf(&b, "\nTwostep demo is running at %s (SQLite in %s, removed when the demo stops).\n\n", base, dir)
	fmt.Fprintf(&b, "Where to click:\n")
	fmt.Fprintf(&b, "  1. Dev inbox — every code lands here:    %s/dev/inbox\n", base)
	fmt.Fprintf(&b, "  2. Sign in as %s, as the user would:    %s/dev/try\n", anna.Name, base)
	fmt.Fprintf(&b, "     (the hosted page: type the code from the inbox; a wrong one first shows the rules at work)\n")
	fmt.Fprintf(&b, "  3. The admin console, as %s:         %s/admin/setup/%s\n", d.Users[0].Name, base, d.SetupLink)
	fmt.Fprintf(&b, "     (choose a password, sign in with %s and the code from the inbox, then open the settings icon)\n\n", d.Users[0].Email)
	fmt.Fprintf(&b, "Company %s %s (SMS first, email as backup). Users:\n", d.Company.ID, d.Company.Name)
	for _, u := range d.Users {
		fmt.Fprintf(&b, "  %s  %-11s web 2FA %-3s manager 2FA %s\n", u.ID, u.Name, onOff(u.TwoFA.Web), onOff(u.TwoFA.Manager))
	}
	fmt.Fprintf(&b, "\nThe JSON API (described at %s/openapi.json), with this key:\n", base)
	fmt.Fprintf(&b, "  export KEY=%s\n", d.Key)
	fmt.Fprintf(&b, "  curl -s -X POST %s/v1/companies/%s/users/%s/challenges -H \"Authorization: Bearer $KEY\" -d '{\"app\":\"web\"}'\n",
		base, d.Company.ID, anna.ID)
	fmt.Fprintf(&b, "  curl -s -X POST %s/v1/challenges/CHALLENGE_ID/verify -H \"Authorization: Bearer $KEY\" -d '{\"code\":\"123456\"}'\n", base)
	fmt.Fprintf(&b, "  curl -s %s/v1/companies/%s/audit-events -H \"Authorization: Bearer $KEY\"\n\n", base, d.Company.ID)
	fmt.Fprintf(&b, "Stop with Ctrl-C. The API key above is the last line of its own:\n%s\n", d.Key)
	w.Write([]byte(b.String()))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

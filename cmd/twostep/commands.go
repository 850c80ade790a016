package main

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/twostep"
)

// migrate brings the schema up to date.
func (e *env) migrate(args []string) error {
	fs, load := e.flags("migrate")
	cfg, err := parse(fs, load, args, 0)
	if err != nil {
		return err
	}
	return e.runMigrations(cfg, e.textLogger())
}

func (e *env) runMigrations(cfg config.Config, log *slog.Logger) error {
	db, err := store.Open(e.ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	m := e.meter("Migrating the database", "", 0)
	applied, err := db.MigrateEach(e.ctx, func(name string, i, n int) { m.set(fmt.Sprintf("%s (%d of %d)", name, i, n)) })
	m.close()
	for _, name := range applied {
		log.Info("applied migration", "name", name)
	}
	if err != nil {
		return err
	}
	current, _, err := db.SchemaVersion(e.ctx)
	if err != nil {
		return err
	}
	log.Info("schema is current", "version", current, "database", db.Dialect())
	return nil
}

// apikey manages API keys.
func (e *env) apikey(args []string) error {
	if len(args) == 0 {
		return usageError{"apikey needs a subcommand: create, list or revoke"}
	}
	fs, load := e.flags("apikey " + args[0])
	switch args[0] {
	case "create":
		name := fs.String("name", "", "what the key is for (required)")
		company := fs.String("company", "", "limit the key to this company's id")
		cfg, err := parse(fs, load, args[1:], 0)
		if err != nil {
			return err
		}
		if *name == "" {
			return usageError{"apikey create needs --name"}
		}
		a, err := e.open(cfg, e.textLogger(), true)
		if err != nil {
			return err
		}
		defer a.db.Close()
		k, secret, err := a.svc.CreateAPIKey(e.ctx, *name, *company)
		if err != nil {
			return err
		}
		scope := "every company"
		if k.CompanyID != "" {
			scope = "company " + k.CompanyID
		}
		fmt.Fprintf(e.stdout, "Created API key %s (%q) for %s.\n", k.ID, k.Name, scope)
		fmt.Fprintln(e.stdout, "It is shown only this once; send it as: Authorization: Bearer <key>")
		fmt.Fprintln(e.stdout, secret)
		return nil

	case "list":
		cfg, err := parse(fs, load, args[1:], 0)
		if err != nil {
			return err
		}
		a, err := e.open(cfg, e.textLogger(), true)
		if err != nil {
			return err
		}
		defer a.db.Close()
		keys, err := a.svc.APIKeys(e.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCOMPANY\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			company := k.CompanyID
			if company == "" {
				company = "(all)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, company, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()

	case "revoke":
		cfg, err := parse(fs, load, args[1:], 1)
		if err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageError{"apikey revoke needs the key's id"}
		}
		a, err := e.open(cfg, e.textLogger(), true)
		if err != nil {
			return err
		}
		defer a.db.Close()
		if err := a.svc.RevokeAPIKey(e.ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Revoked API key %s.\n", fs.Arg(0))
		return nil
	}
	return usageError{fmt.Sprintf("unknown apikey subcommand %q", args[0])}
}

// audit checks the audit log, or anchors it with a checkpoint.
func (e *env) audit(args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "checkpoint") {
		return usageError{"audit needs a subcommand: verify or checkpoint"}
	}
	if args[0] == "checkpoint" {
		return e.auditCheckpoint(args[1:])
	}
	fs, load := e.flags("audit verify")
	verbose := fs.Bool("v", false, "print each company's event count")
	checkpoint := fs.String("checkpoint", "", "a file of checkpoint lines (from `twostep audit checkpoint`); its last line must hold too")
	cfg, err := parse(fs, load, args[1:], 0)
	if err != nil {
		return err
	}
	a, err := e.open(cfg, e.textLogger(), true)
	if err != nil {
		return err
	}
	defer a.db.Close()
	var cp *twostep.Checkpoint
	if *checkpoint != "" {
		if cp, err = readCheckpoint(a.svc, *checkpoint); err != nil {
			return err
		}
	}
	var total int64
	if isTerminal(e.stderr) { // for the time left
		_, heads, err := a.svc.AuditHeads(e.ctx, nil)
		if err != nil {
			return err
		}
		for _, h := range heads {
			total += h.Events
		}
	}
	m := e.meter("Verifying the audit log", "events", total)
	var companies, events int64
	brk, err := a.svc.VerifyAudit(e.ctx, cp, twostep.VerifyProgress{
		Events: func(n int) { m.add(int64(n)) },
		Company: func(companyID string, n int64) {
			companies++
			events += n
			if *verbose {
				m.above(e.stdout, fmt.Sprintf("ok %s: %d events\n", companyID, n))
			}
		}})
	m.close()
	if err != nil {
		return err
	}
	if brk != nil {
		fmt.Fprintf(e.stdout, "BROKEN: %s\n", brk)
		return exitError{1}
	}
	fmt.Fprintf(e.stdout, "Audit log intact: %d companies, %d events.\n", companies, events)
	if cp != nil {
		fmt.Fprintf(e.stdout, "Everything the checkpoint of %s covers is there: %d companies.\n", cp.Time.Format(time.RFC3339), len(cp.Companies))
	}
	return nil
}

// readCheckpoint reads the last checkpoint line of a file and checks its
// signature.
func readCheckpoint(svc *twostep.Service, path string) (*twostep.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	cp, err := svc.ReadCheckpoint([]byte(strings.TrimSpace(lines[len(lines)-1])))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cp, nil
}

// auditCheckpoint prints one signed line with every company's event
// count and head hash, for the operator to keep away from the database.
func (e *env) auditCheckpoint(args []string) error {
	fs, load := e.flags("audit checkpoint")
	cfg, err := parse(fs, load, args, 0)
	if err != nil {
		return err
	}
	a, err := e.open(cfg, e.textLogger(), true)
	if err != nil {
		return err
	}
	defer a.db.Close()
	m := e.meter("Reading every company's audit head", "companies", 0)
	line, cp, err := a.svc.AuditCheckpoint(e.ctx, func(n int) { m.add(int64(n)) })
	m.close()
	if err != nil {
		return err
	}
	var events int64
	for _, h := range cp.Companies {
		events += h.Events
	}
	fmt.Fprintf(e.stderr, "Checkpoint of %s: %d companies, %d events. Keep it away from the database, e.g. twostep audit checkpoint >> /elsewhere/checkpoints.log\n",
		cp.Time.Format(time.RFC3339), len(cp.Companies), events)
	fmt.Fprintf(e.stdout, "%s\n", line)
	return nil
}

// backup copies a live SQLite database to a new file.
func (e *env) backup(args []string) error {
	fs, load := e.flags("backup")
	cfg, err := parse(fs, load, args, 1)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"backup needs the file to write, which must not exist yet: twostep backup FILE"}
	}
	db, err := store.Open(e.ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	stop := e.meterFile("Backing up", fs.Arg(0), sqliteSize(cfg.DatabaseURL))
	err = db.Backup(e.ctx, fs.Arg(0))
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Backed up %s to %s in %s. Keep it with a copy of the secret file (%s): the copy's codes, audit chain and keys need it.\n",
		cfg.DatabaseURL, fs.Arg(0), time.Since(start).Round(time.Millisecond), cfg.SecretFile)
	return nil
}

// webhook prints the key that signs webhook bodies, for the receiver.
func (e *env) webhook(args []string) error {
	if len(args) == 0 || args[0] != "secret" {
		return usageError{"webhook needs a subcommand: secret"}
	}
	fs, load := e.flags("webhook secret")
	cfg, err := parse(fs, load, args[1:], 0)
	if err != nil {
		return err
	}
	secrets, _, err := config.LoadSecrets(cfg.SecretFile)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "Check Twostep-Signature (t=<unix>,v1=<hex>) as HMAC-SHA256 over \"<unix>.<body>\" keyed with these 32 bytes, hex-encoded:")
	fmt.Fprintln(e.stdout, hex.EncodeToString(secrets.WebhookKey))
	return nil
}

// admin manages console admins.
func (e *env) admin(args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"admin needs a subcommand: create"}
	}
	fs, load := e.flags("admin create", "email") // --email is the admin's, not the sender's
	company := fs.String("company", "", "the company's id (required)")
	email := fs.String("email", "", "the admin's email address (required)")
	cfg, err := parse(fs, load, args[1:], 0)
	if err != nil {
		return err
	}
	if *company == "" || *email == "" {
		return usageError{"admin create needs --company and --email"}
	}
	a, err := e.open(cfg, e.textLogger(), true)
	if err != nil {
		return err
	}
	defer a.db.Close()
	u, token, err := a.svc.CreateAdmin(e.ctx, *company, *email)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s (%s) is an admin of company %s.\n", u.Name, u.Email, u.CompanyID)
	fmt.Fprintf(e.stdout, "Send them this one-time link to choose a password; it works once, for %s:\n", twostep.SetupLinkTTL)
	fmt.Fprintln(e.stdout, cfg.PublicURL+"/admin/setup/"+token)
	return nil
}

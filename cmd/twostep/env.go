package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/result"
)

// env is what every command gets: the context, the environment and the
// output streams. Nothing is global.
type env struct {
	ctx            context.Context
	getenv         func(string) string
	stdout, stderr io.Writer
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError ends a command with a code after it has said why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// exitCode reports err on stderr and turns it into the process's exit code.
func (e *env) exitCode(err error) int {
	var (
		ue usageError
		ee exitError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(e.stderr, "twostep:", ue.msg)
		return 2
	}
	fmt.Fprintln(e.stderr, "twostep:", err)
	return 1
}

// flags returns a flag set for a command with the settings flags on it
// and the function that reads the Config after parsing.
func (e *env) flags(name string, skip ...string) (*flag.FlagSet, func() (config.Config, error)) {
	fs := flag.NewFlagSet("twostep "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs, config.Flags(fs, e.getenv, skip...)
}

// parse parses args into fs and builds the Config, reporting mistakes as
// usage errors. It allows at most maxArgs positional arguments.
func parse(fs *flag.FlagSet, load func() (config.Config, error), args []string, maxArgs int) (config.Config, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config.Config{}, err
		}
		return config.Config{}, usageError{err.Error()}
	}
	if fs.NArg() > maxArgs {
		return config.Config{}, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(maxArgs))}
	}
	cfg, err := load()
	if err != nil {
		return cfg, usageError{err.Error()}
	}
	return cfg, nil
}

// app is an open store with the service over it.
type app struct {
	db      *store.DB
	svc     *twostep.Service
	secrets config.Secrets
}

// open opens the database and the secret file. With requireSchema it
// refuses a database whose schema is behind.
func (e *env) open(cfg config.Config, log *slog.Logger, requireSchema bool) (*app, error) {
	secrets, created, err := config.LoadSecrets(cfg.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if created {
		log.Info("created a new secret file; give every instance a copy", "path", cfg.SecretFile)
	}
	db, err := store.Open(e.ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if requireSchema {
		if err := db.CheckSchema(e.ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	svc := twostep.NewService(db, twostep.Options{
		AuditKey: secrets.AuditKey, CodeKey: secrets.CodeKey, OutboxKey: secrets.OutboxKey, CheckpointSeed: secrets.CheckpointSeed,
		CodeTTL: cfg.CodeTTL, ResendCooldown: cfg.ResendCooldown, ReturnOrigins: cfg.AllowedReturnOrigins,
		NoSMS: cfg.SMS == "none", SMSGlobalDailyCap: cfg.SMSGlobalDailyCap,
		Signer:    result.NewSigner(secrets.SignSeed, cfg.PublicURL),
		PublicURL: cfg.PublicURL, WebAuthnRPID: cfg.WebAuthnRPID,
	})
	return &app{db: db, svc: svc, secrets: secrets}, nil
}

// textLogger logs for the operator commands: plain text on stderr.
func (e *env) textLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, nil))
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

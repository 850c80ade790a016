// Command twostep runs the Twostep two-factor authentication service and
// its operator commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `Usage: twostep <command> [flags]

Commands:
  demo                        run on a fresh SQLite database with sample data and the dev inbox
  serve                       run the service (--migrate applies migrations first)
  migrate                     bring the database schema up to date
  admin create --company ID --email E
                              make E an admin of the company; prints a one-time set-up link
  apikey create --name N      create an API key (--company ID limits it to one company)
  apikey list                 list API keys
  apikey revoke ID            revoke an API key
  audit verify [--checkpoint FILE]
                              check every company's audit hash chain (and that nothing the
                              file's last checkpoint covers is gone)
  audit checkpoint            print one signed line of every company's event count and head
  backup FILE                 copy a live SQLite database to FILE (PostgreSQL: use pg_dump)
  webhook secret              print the key that signs webhook bodies
  version                     print the version

Every command takes the settings flags; run "twostep serve -h" to see them.
`

// run is the whole program: it parses args, reads settings through getenv
// and writes to stdout and stderr. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := &env{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = env.serve(rest)
	case "demo":
		err = env.demo(rest)
	case "migrate":
		err = env.migrate(rest)
	case "apikey":
		err = env.apikey(rest)
	case "admin":
		err = env.admin(rest)
	case "audit":
		err = env.audit(rest)
	case "webhook":
		err = env.webhook(rest)
	case "backup":
		err = env.backup(rest)
	case "version":
		fmt.Fprintln(stdout, "twostep", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "twostep: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	return env.exitCode(err)
}

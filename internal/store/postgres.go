package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/twostep/twostep/internal/twostep"
)

// postgresDialect is PostgreSQL's side of the differences.
var postgresDialect = &dialect{
	name:       "postgres",
	lockRow:    " FOR UPDATE",
	skipLocked: " FOR UPDATE SKIP LOCKED",
	mapError:   postgresError,
	retryable:  postgresRetryable,
	// Concurrent migrators of one schema wait for each other.
	lockMigrations: "SELECT pg_advisory_xact_lock(hashtext(current_schema()))",
	now:            `SELECT now()`,
	indexedBy:      func(string) string { return "" },
	// PostgreSQL's default, read committed, takes a snapshot per statement.
	readTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	versionTableExists: `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`,
	sequencesEvents: true,
}

// openPostgres opens a pool on url. Extra URL parameters such as
// search_path are passed to the server as run-time settings.
func openPostgres(url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Ten connections keep a 2-core server busy; several instances on one
	// server must stay under its max_connections together.
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// No statement cache here: pgx already keeps each statement prepared
	// on the connection that ran it.
	return &DB{dialect: postgresDialect, db: db, rdb: db, offset: &clockOffset{}}, nil
}

// PostgreSQL error codes, from Appendix A of its manual.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgTooManyConnections   = "53300"
)

// postgresError maps PostgreSQL's error codes to the sentinels of package
// twostep. A server that is down, restarting or unreachable becomes
// CodeUnavailable: the client may try again, and nothing was done.
func postgresError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == pgUniqueViolation:
			return fmt.Errorf("%w: %w", twostep.ErrConflict, err)
		case pe.Code == pgForeignKeyViolation:
			return fmt.Errorf("%w: %w", twostep.ErrNotFound, err)
		case pe.Code == "22021" || pe.Code == "22P05":
			// Text PostgreSQL cannot hold (invalid UTF-8, NUL): no stored
			// row can match it. Inputs are checked before they are written.
			return fmt.Errorf("%w: %w", twostep.ErrNotFound, err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == pgTooManyConnections:
			// connection exception, admin/crash shutdown, too many connections
			return unavailable(err)
		}
		return err
	}
	var (
		ce  *pgconn.ConnectError
		net net.Error
	)
	if errors.As(err, &ce) || errors.As(err, &net) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return unavailable(err)
	}
	return err
}

// unavailable reports storage that cannot be reached now.
func unavailable(err error) error {
	return &twostep.Error{Code: twostep.CodeUnavailable, Message: "storage is not available; try again later", Err: err}
}

// postgresRetryable reports errors after which the transaction may run
// again: a deadlock, a serialisation failure, or a server that has no free
// connection just now.
func postgresRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected ||
		pe.Code == pgTooManyConnections)
}

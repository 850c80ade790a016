package store

import (
	"database/sql"
	"errors"
	"fmt"
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
	versionTableExists: `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`,
}

// openPostgres opens a pool on url. Extra URL parameters such as
// search_path are passed to the server as run-time settings.
func openPostgres(url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{dialect: postgresDialect, db: db, rdb: db}, nil
}

// PostgreSQL error codes, from Appendix A of its manual.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// postgresError maps PostgreSQL's error codes to the sentinels of package
// twostep. Connection failures become CodeUnavailable.
func postgresError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w: %w", twostep.ErrConflict, err)
		case pgForeignKeyViolation:
			return fmt.Errorf("%w: %w", twostep.ErrNotFound, err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, sql.ErrConnDone) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &twostep.Error{Code: twostep.CodeUnavailable, Message: "storage is not available; try again later", Err: err}
	}
	return err
}

// postgresRetryable reports errors after which the transaction may run again.
func postgresRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected)
}

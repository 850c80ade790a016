package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrations holds the schema changes of each database, applied in the
// order of their number prefix, each in its own transaction, never undone.
//
//go:embed migrations
var migrations embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations of one dialect.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return out, nil
}

// createVersionTable records which migrations have been applied.
const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)`

// Migrate applies the migrations the database has not had yet and returns
// the names of those it applied. Several processes may run it at once.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	return d.MigrateEach(ctx, nil)
}

// MigrateEach is Migrate, telling before, if not nil, of each migration
// it comes to (the i-th of n, from 1), whether or not it has run before.
func (d *DB) MigrateEach(ctx context.Context, before func(name string, i, n int)) ([]string, error) {
	all, err := loadMigrations(d.dialect.name)
	if err != nil {
		return nil, err
	}
	var applied []string
	for i, m := range all {
		if before != nil {
			before(m.name, i+1, len(all))
		}
		done, err := d.apply(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.name)
		}
	}
	return applied, nil
}

// apply runs one migration unless it has run already; the check and the
// change share a transaction, under the dialect's migration lock.
func (d *DB) apply(ctx context.Context, m migration) (bool, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if d.dialect.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.dialect.lockMigrations); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, createVersionTable); err != nil {
		return false, err
	}
	var n int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n)
	if err != nil || n > 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixMicro())
	if err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// SchemaVersion returns the version of the database's schema and the
// newest version this binary knows.
func (d *DB) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	all, err := loadMigrations(d.dialect.name)
	if err != nil {
		return 0, 0, err
	}
	var v sql.NullInt64
	err = d.rdb.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	if err != nil && !isMissingTable(ctx, d) {
		return 0, len(all), d.dialect.mapError(err)
	}
	return int(v.Int64), len(all), nil
}

// ErrSchemaBehind says the database needs `twostep migrate`.
var ErrSchemaBehind = errors.New("the database schema is behind this binary; run `twostep migrate`")

// CheckSchema returns ErrSchemaBehind unless every migration has been applied.
func (d *DB) CheckSchema(ctx context.Context) error {
	current, latest, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return fmt.Errorf("%w (schema version %d, binary needs %d)", ErrSchemaBehind, current, latest)
	}
	return nil
}

// isMissingTable reports whether schema_migrations does not exist yet.
func isMissingTable(ctx context.Context, d *DB) bool {
	var n int
	return d.rdb.QueryRowContext(ctx, d.dialect.versionTableExists).Scan(&n) == nil && n == 0
}

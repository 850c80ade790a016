package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/twostep/twostep/internal/twostep"
)

// sqliteDialect is SQLite's side of the differences.
var sqliteDialect = &dialect{
	name:           "sqlite",
	lockRow:        "",
	mapError:       sqliteError,
	retryable:      func(error) bool { return false }, // one writer: no deadlocks
	lockMigrations: "",
	indexedBy:      func(index string) string { return " INDEXED BY " + index },
	seqOnlyWalks:   true,
	// A read in WAL mode keeps its snapshot to the transaction's end.
	readTx: &sql.TxOptions{ReadOnly: true},
	versionTableExists: `SELECT count(*) FROM sqlite_master
		WHERE type = 'table' AND name = 'schema_migrations'`,
}

// sqlitePragmas apply to every connection. WAL lets readers run beside the
// writer; synchronous=FULL makes every commit durable even across power
// loss; busy_timeout covers other processes (a CLI command beside a
// server) that take the write lock for a moment.
var sqlitePragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(FULL)",
}

// openSQLite opens path with one writing connection, which serialises
// writers inside the process without SQLITE_BUSY, and a pool of readers.
// The path may end in ?max_page_count=N, which caps the database's size
// (in pages of 4 KiB): writes beyond it fail as on a full disk.
func openSQLite(path string) (*DB, error) {
	path, query, _ := strings.Cut(path, "?")
	if path == "" {
		return nil, fmt.Errorf("sqlite: the database URL needs a file path, like sqlite:twostep.db")
	}
	var extra []string
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		for k, v := range q {
			n, err := strconv.Atoi(v[0])
			if k != "max_page_count" || err != nil || n < 1 {
				return nil, fmt.Errorf("sqlite: the only URL option is max_page_count=N")
			}
			extra = append(extra, fmt.Sprintf("max_page_count(%d)", n))
		}
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dsn := func(more ...string) string {
		q := url.Values{}
		for _, p := range append(append(sqlitePragmas, extra...), more...) {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	d := &DB{dialect: sqliteDialect, db: w, rdb: r, wstmts: newStmtCache(w), rstmts: newStmtCache(r), dsn: dsn()}
	d.startBatcher()
	return d, nil
}

// ErrNoBackup answers a backup of a database this command cannot copy.
var ErrNoBackup = errors.New("twostep backup copies SQLite databases; back PostgreSQL up with pg_dump (e.g. pg_dump --format=custom --file=twostep.dump \"$TWOSTEP_DATABASE_URL\") or your provider's snapshots")

// Backup writes a consistent copy of a live SQLite database to path, a
// file that must not exist yet, readable by this user alone. VACUUM INTO
// reads one snapshot, so writers carry on meanwhile and the copy is the
// database as of one moment. On PostgreSQL it returns ErrNoBackup.
func (d *DB) Backup(ctx context.Context, path string) error {
	if d.dialect != sqliteDialect {
		return ErrNoBackup
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	// A connection of its own: the readers are query-only, which VACUUM
	// INTO counts as writing, and the writer must stay free.
	conn, err := sql.Open("sqlite", d.dsn)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup: %w", d.dialect.mapError(err))
	}
	return nil
}

// createPrivate creates the database file, empty and readable by this
// user alone, unless it exists. SQLite gives the files beside it (-wal,
// -shm) the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// sqliteError maps SQLite's result codes to the sentinels of package twostep.
func sqliteError(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", twostep.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", twostep.ErrNotFound, err)
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY:
		return &twostep.Error{Code: twostep.CodeUnavailable, Message: "storage is not available; try again later", Err: err}
	}
	return err
}

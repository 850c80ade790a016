// Package storetest gives tests fresh databases: SQLite in a temporary
// directory always, and PostgreSQL in a schema of its own when
// TWOSTEP_TEST_POSTGRES names a server. Without that variable the
// PostgreSQL tests skip, unless TWOSTEP_TEST_REQUIRE=1 makes every
// optional test required, as CI does.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/twostep/twostep/internal/store"
	_ "modernc.org/sqlite" // the "sqlite" driver
)

// PostgresEnv names the variable with the PostgreSQL server for tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "TWOSTEP_TEST_POSTGRES"

// RequireEnv, set to 1, turns every skip for a missing optional part into
// a failure.
const RequireEnv = "TWOSTEP_TEST_REQUIRE"

// Skip skips t for want of an optional part, or fails it when every
// optional test is required.
func Skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires it", why, RequireEnv)
	}
	t.Skip(why)
}

// Engine is one database a test runs on.
type Engine struct {
	Name string // "sqlite" or "postgres"
	// URL opens a fresh, empty database of this engine for t.
	URL func(t testing.TB) string
}

// Engines lists both engines.
var Engines = []Engine{{"sqlite", SQLiteURL}, {"postgres", PostgresURL}}

// Run runs fn as one subtest per engine, each with a fresh database URL.
func Run(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.URL(t)) })
	}
}

// SQLiteURL returns the URL of a new SQLite database in t's temp dir.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "twostep.db")
}

// PostgresURL returns the URL of a new, empty schema on the test server,
// dropped when t ends. It skips t when no server is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		Skip(t, "PostgreSQL tests need "+PostgresEnv+"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer db.Close()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("postgres at %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RawDB opens the database behind a store URL directly, for tests that
// must reach past the store: to tamper with rows or inject failures.
func RawDB(t testing.TB, storeURL string) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	if path, ok := strings.CutPrefix(storeURL, "sqlite:"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	} else {
		db, err = sql.Open("pgx", storeURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// IsPostgres reports whether a store URL names PostgreSQL.
func IsPostgres(storeURL string) bool { return strings.HasPrefix(storeURL, "postgres") }

// Open opens the store at url and migrates it; it closes when t ends.
func Open(t testing.TB, url string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Like returns a new, empty database of the same engine as url, for a
// subtest that must not share its parent's rows.
func Like(t testing.TB, url string) string {
	if IsPostgres(url) {
		return PostgresURL(t)
	}
	return SQLiteURL(t)
}

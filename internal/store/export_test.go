package store

import "context"

// SetNowQuery replaces the query that reads the database's clock, so a
// test can put that clock somewhere this process's is not.
func SetNowQuery(d *DB, query string) {
	dialect := *d.dialect
	dialect.now = query
	d.dialect = &dialect
}

// Commits counts the SQLite writer's commits; -1 on PostgreSQL.
func Commits(d *DB) int64 {
	if d.batch == nil {
		return -1
	}
	return d.batch.commits.Load()
}

// MigrateTo applies the migrations up to and including version n.
func MigrateTo(ctx context.Context, d *DB, n int) error {
	all, err := loadMigrations(d.dialect.name)
	if err != nil {
		return err
	}
	for _, m := range all[:n] {
		if _, err := d.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs a statement outside the store's methods, for a test that
// writes what an older schema held.
func Exec(ctx context.Context, d *DB, query string, args ...any) error {
	_, err := d.db.ExecContext(ctx, query, args...)
	return err
}

// Queued counts the updates waiting for the SQLite writer's next batch.
func Queued(d *DB) int {
	d.batch.mu.Lock()
	defer d.batch.mu.Unlock()
	return len(d.batch.waiting)
}

// FailCommits makes every later commit of the SQLite writer fail with err
// (nil restores real commits).
func FailCommits(d *DB, err error) {
	if err == nil {
		d.batch.failCommit.Store(nil)
		return
	}
	d.batch.failCommit.Store(&err)
}

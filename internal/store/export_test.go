package store

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

package store

// SetNowQuery replaces the query that reads the database's clock, so a
// test can put that clock somewhere this process's is not.
func SetNowQuery(d *DB, query string) {
	dialect := *d.dialect
	dialect.now = query
	d.dialect = &dialect
}

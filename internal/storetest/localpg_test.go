package storetest

import (
	"database/sql"
	"testing"
)

func TestLocalPostgresRestarts(t *testing.T) {
	p := StartLocalPostgres(t)
	db, err := sql.Open("pgx", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if err := db.Ping(); err == nil {
		t.Fatal("ping answered with the server stopped")
	}
	p.Start()
	if err := db.Ping(); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

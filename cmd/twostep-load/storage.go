package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The storage limit: what the database engine alone allows for the writes
// of one sign-in, done directly with database/sql on a scratch database of
// the same engine, with the same connection settings as internal/store and
// as many goroutines as the sign-in run had clients, for the same time.
//
// One sign-in is modelled as three write transactions, each one commit:
//
//  1. create:  INSERT INTO challenges (…20 columns…) VALUES (…)       — the statement of store.Tx.CreateChallenge
//     INSERT INTO outbox (…13 columns…) VALUES (…) RETURNING id — store.Tx.EnqueueMessage's, plus RETURNING id
//     to know the row without a claim
//  2. deliver: UPDATE outbox SET status = 'sent', provider_id, last_error, finished_at, sealed_code = '',
//     lease_until = 0 WHERE id = $1 AND status = 'queued'        — store.Tx.FinishMessage's
//  3. verify:  UPDATE challenges SET … WHERE id = $1 AND status = $2 AND code_hash = $3
//     AND code_attempts = $4 AND sends = $5                          — store.Tx.UpdateChallenge's compare-and-set
//
// It leaves out what the service does besides these writes: the reads
// (company, user, lockout, rate-limit rows, the challenge before verify),
// the rate-limit, counter, lockout and daily-stats upserts, the outbox
// claim as its own transaction, and on PostgreSQL the SELECT now() per
// transaction. So it is the floor under the service's own cost: the
// three commits (on SQLite three fsyncs of the WAL with synchronous=FULL)
// and the index maintenance of the rows a sign-in must write.
//
// Schema: the store's own migrations (store.Migrate), with foreign keys
// on, so the inserts check their company and user as the service's do.

// storageSQLiteDSN is the writer's DSN of internal/store/sqlite.go
// (openSQLite): the same pragmas and _txlock=immediate; one connection.
// sync is FULL there; -storage-normal also measures NORMAL, for reference.
func storageSQLiteDSN(path, sync string) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(" + sync + ")"} {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode() + "&_txlock=immediate"
}

const (
	storageInsertChallenge = `
		INSERT INTO challenges (id, company_id, user_id, app, status, channel, destination, code_hash,
			code_attempts, code_expires_at, last_sent_at, sends, failures, sms_failed, ip, user_agent,
			return_url, verify_token_hash, created_at, approved_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
	storageInsertOutbox = `
		INSERT INTO outbox (challenge_id, company_id, user_id, app, send, channel, destination,
			company_name, sealed_code, code_expires_at, status, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING id`
	storageFinishMessage = `
		UPDATE outbox SET status = $2, provider_id = $3, last_error = $4, finished_at = $5,
			sealed_code = '', lease_until = 0
		WHERE id = $1 AND status = 'queued'`
	storageUpdateChallenge = `
		UPDATE challenges SET status = $6, channel = $7, destination = $8, code_hash = $9,
			code_attempts = $10, code_expires_at = $11, last_sent_at = $12, sends = $13,
			failures = $14, sms_failed = $15, approved_at = $16
		WHERE id = $1 AND status = $2 AND code_hash = $3 AND code_attempts = $4 AND sends = $5`
)

// storageLimit measures the storage limit for n goroutines and fills in
// r; with -storage-normal on SQLite, also with synchronous=NORMAL.
func (w *workspace) storageLimit(ctx context.Context, dbArg string, n int, r *result) error {
	if err := w.storageRun(ctx, dbArg, n, "FULL", &r.storage); err != nil {
		return err
	}
	if w.o.storageNormal && r.engine == "sqlite" {
		r.storageNormal = &storageResult{}
		return w.storageRun(ctx, dbArg, n, "NORMAL", r.storageNormal)
	}
	return nil
}

// storageResult is one measurement of the storage limit.
type storageResult struct {
	signIns int
	tx      [3]latencies
	errors  int
}

func (w *workspace) storageRun(ctx context.Context, dbArg string, n int, synchronous string, r *storageResult) error {
	name := fmt.Sprintf("storage-%s-%d-%s", engineOf(dbArg), n, strings.ToLower(synchronous))
	dbURL, err := w.freshDB(ctx, dbArg, name)
	if err != nil {
		return err
	}
	if err := migrate(ctx, dbURL); err != nil {
		return err
	}
	var db *sql.DB
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		if db, err = sql.Open("sqlite", storageSQLiteDSN(path, synchronous)); err != nil {
			return err
		}
		db.SetMaxOpenConns(1) // the one writer, as internal/store
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		if db, err = sql.Open("pgx", dbURL); err != nil {
			return err
		}
		db.SetMaxOpenConns(20) // as internal/store/postgres.go
		db.SetMaxIdleConns(20)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	defer db.Close()

	// A company and one user per goroutine, for the foreign keys.
	now := time.Now().UnixMicro()
	if _, err := db.ExecContext(ctx, `INSERT INTO companies (id, name, created_at, delivery_method, sms_daily_cap, settings_updated_at)
		VALUES ('co_storage', 'Storage', $1, 'sms_then_email', 1000000, $1)`, now); err != nil {
		return err
	}
	for i := range n {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, company_id, name, phone, role, twofa_web, twofa_manager,
			sort_name, search, created_at, updated_at) VALUES ($1, 'co_storage', $2, $3, 'member', TRUE, FALSE, $2, $2, $4, $4)`,
			fmt.Sprintf("usr_storage%d", i), fmt.Sprintf("user %d", i), fmt.Sprintf("+3712%07d", i), now); err != nil {
			return err
		}
	}

	var (
		t0      = time.Now()
		warmEnd = t0.Add(w.o.warmup)
		end     = warmEnd.Add(w.o.duration)
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	for g := range n {
		wg.Go(func() {
			var (
				lat  [3]latencies
				done int
				errs int
			)
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				for i := range lat {
					r.tx[i] = append(r.tx[i], lat[i]...)
				}
				r.signIns += done
				r.errors += errs
			}()
			user := fmt.Sprintf("usr_storage%d", g)
			for time.Now().Before(end) && ctx.Err() == nil {
				start := time.Now()
				d, err := storageSignIn(ctx, db, user)
				if err != nil {
					errs++
					continue
				}
				if !start.Before(warmEnd) && !time.Now().After(end) {
					done++
					for i := range lat {
						lat[i] = append(lat[i], d[i])
					}
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// storageSignIn writes one sign-in as three transactions and returns each
// one's time.
func storageSignIn(ctx context.Context, db *sql.DB, user string) ([3]time.Duration, error) {
	var d [3]time.Duration
	id, codeHash, sealed := randomText("ch_", 16), randomHex(32), base64.RawStdEncoding.EncodeToString(randomBytes(34))
	now := time.Now().UnixMicro()
	expires := now + (5 * time.Minute).Microseconds()
	var msg int64
	t := time.Now()
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, storageInsertChallenge, id, "co_storage", user, "web", "pending", "sms", "+37120000000",
			codeHash, 0, expires, now, 1, 0, false, "", "", "", "", now, 0); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, storageInsertOutbox, id, "co_storage", user, "web", 1, "sms", "+37120000000",
			"Storage", sealed, expires, "queued", now, now).Scan(&msg)
	})
	if err != nil {
		return d, err
	}
	d[0] = time.Since(t)
	t = time.Now()
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		return execOne(ctx, tx, storageFinishMessage, msg, "sent", "SM0000", "", time.Now().UnixMicro())
	})
	if err != nil {
		return d, err
	}
	d[1] = time.Since(t)
	t = time.Now()
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		return execOne(ctx, tx, storageUpdateChallenge, id, "pending", codeHash, 0, 1,
			"approved", "sms", "+37120000000", "", 0, expires, now, 1, 0, false, time.Now().UnixMicro())
	})
	d[2] = time.Since(t)
	return d, err
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func execOne(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%d rows changed, want 1 (%v)", n, err)
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomText(prefix string, n int) string {
	return prefix + idEncoding.EncodeToString(randomBytes(n))
}

// idEncoding is the service's id alphabet: lower-case base32, no padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

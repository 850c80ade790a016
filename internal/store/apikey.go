package store

import (
	"context"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// CreateAPIKey stores a key by its hash.
func (t *Tx) CreateAPIKey(ctx context.Context, k twostep.APIKey, hash string) error {
	_, err := t.exec(ctx, `
		INSERT INTO api_keys (id, name, company_id, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Name, nullIfEmpty(k.CompanyID), hash, micros(k.CreatedAt))
	return t.fail(err)
}

const selectAPIKey = `SELECT id, name, COALESCE(company_id, ''), created_at, revoked_at FROM api_keys`

func scanAPIKey(r rowScanner) (twostep.APIKey, error) {
	var (
		k                twostep.APIKey
		created, revoked int64
	)
	err := r.Scan(&k.ID, &k.Name, &k.CompanyID, &created, &revoked)
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromMicros(revoked)
	return k, err
}

// APIKeyByHash finds a key by the hash of its secret.
func (t *Tx) APIKeyByHash(ctx context.Context, hash string) (twostep.APIKey, error) {
	k, err := scanAPIKey(t.queryRow(ctx, selectAPIKey+` WHERE hash = $1`, hash))
	return k, t.fail(err)
}

// APIKeys lists every key, oldest first.
func (t *Tx) APIKeys(ctx context.Context) ([]twostep.APIKey, error) {
	rows, err := t.query(ctx, selectAPIKey+` ORDER BY created_at, id`)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var keys []twostep.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		keys = append(keys, k)
	}
	return keys, t.fail(rows.Err())
}

// RevokeAPIKey marks a live key revoked.
func (t *Tx) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, id, micros(at))
}

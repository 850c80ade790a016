package twostep

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errBadKey answers every failed authentication alike.
var errBadKey = &Error{Code: CodeUnauthorized, Message: "a valid API key is required: Authorization: Bearer <key>"}

// CreateAPIKey creates a key limited to companyID ("" for all companies)
// and returns it with the secret key, which is never shown again.
func (s *Directory) CreateAPIKey(ctx context.Context, name, companyID string) (APIKey, string, error) {
	name, err := cleanText("name", name, maxNameLen, false)
	if err != nil {
		return APIKey{}, "", err
	}
	id, err := newID(s.rand, prefixAPIKey)
	if err != nil {
		return APIKey{}, "", Internal(err)
	}
	secret, err := randomToken(s.rand, apiKeyPrefix, 32)
	if err != nil {
		return APIKey{}, "", Internal(err)
	}
	k := APIKey{ID: id, Name: name, CompanyID: companyID}
	err = s.update(ctx, func(tx Tx) error {
		if k.CreatedAt, err = tx.Now(ctx); err != nil {
			return err
		}
		if companyID != "" {
			if _, err := tx.Company(ctx, companyID); errors.Is(err, ErrNotFound) {
				return NotFound("company")
			} else if err != nil {
				return err
			}
		}
		return tx.CreateAPIKey(ctx, k, HashAPIKey(secret))
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

// KeyCacheTTL is how long a server trusts a key it has checked without
// asking the database again: revoking a key takes effect at once on the
// server that revokes it and within this time on every other one.
// Checking the key was a fifth of a sign-in's round trips to PostgreSQL.
const KeyCacheTTL = 5 * time.Second

// keyCacheMax bounds the cache; a platform has a handful of keys.
const keyCacheMax = 1000

// keyCache remembers recently checked live keys by their secret's hash.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	key     APIKey
	checked time.Time
}

func (c *keyCache) get(hash string, now time.Time) (APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Sub(e.checked) >= KeyCacheTTL || now.Before(e.checked) {
		return APIKey{}, false
	}
	return e.key, true
}

func (c *keyCache) put(hash string, k APIKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = map[string]cachedKey{}
	}
	c.m[hash] = cachedKey{key: k, checked: now}
}

// forget drops the key with id.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.key.ID == id {
			delete(c.m, h)
		}
	}
}

// Authenticate returns the live key whose secret is given.
func (s *Directory) Authenticate(ctx context.Context, secret string) (APIKey, error) {
	if !LooksLikeAPIKey(secret) {
		return APIKey{}, errBadKey
	}
	hash := HashAPIKey(secret)
	if k, ok := s.keys.get(hash, s.now()); ok {
		return k, nil
	}
	var k APIKey
	err := s.view(ctx, func(tx Tx) error {
		var err error
		k, err = tx.APIKeyByHash(ctx, hash)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return APIKey{}, errBadKey
	case err != nil:
		return APIKey{}, err
	case !k.RevokedAt.IsZero():
		return APIKey{}, errBadKey
	}
	s.keys.put(hash, k, s.now())
	return k, nil
}

// APIKeys lists every key, revoked ones included.
func (s *Directory) APIKeys(ctx context.Context) ([]APIKey, error) {
	var keys []APIKey
	err := s.view(ctx, func(tx Tx) error {
		var err error
		keys, err = tx.APIKeys(ctx)
		return err
	})
	return keys, err
}

// RevokeAPIKey stops a key from working for good: at once on this server,
// within KeyCacheTTL on the others.
func (s *Directory) RevokeAPIKey(ctx context.Context, id string) error {
	defer s.keys.forget(id)
	return s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		err = tx.RevokeAPIKey(ctx, id, now)
		if errors.Is(err, ErrNotFound) {
			return NotFound("API key")
		}
		return err
	})
}

// CallerFor returns the Caller of a request made with key k.
func CallerFor(k APIKey) Caller {
	return Caller{KeyID: k.ID, KeyName: k.Name, Scope: k.CompanyID}
}

package twostep

import (
	"context"
	"errors"
)

// errBadKey answers every failed authentication alike.
var errBadKey = &Error{Code: CodeUnauthorized, Message: "a valid API key is required: Authorization: Bearer <key>"}

// CreateAPIKey creates a key limited to companyID ("" for all companies)
// and returns it with the secret key, which is never shown again.
func (s *Service) CreateAPIKey(ctx context.Context, name, companyID string) (APIKey, string, error) {
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

// Authenticate returns the live key whose secret is given.
func (s *Service) Authenticate(ctx context.Context, secret string) (APIKey, error) {
	if !LooksLikeAPIKey(secret) {
		return APIKey{}, errBadKey
	}
	var k APIKey
	err := s.view(ctx, func(tx Tx) error {
		var err error
		k, err = tx.APIKeyByHash(ctx, HashAPIKey(secret))
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
	return k, nil
}

// APIKeys lists every key, revoked ones included.
func (s *Service) APIKeys(ctx context.Context) ([]APIKey, error) {
	var keys []APIKey
	err := s.view(ctx, func(tx Tx) error {
		var err error
		keys, err = tx.APIKeys(ctx)
		return err
	})
	return keys, err
}

// RevokeAPIKey stops a key from working, at once and for good.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
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

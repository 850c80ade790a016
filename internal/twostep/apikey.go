package twostep

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// APIKey lets a platform backend call the JSON API. Only a hash of the key
// is stored; the key itself is shown once, when it is created.
type APIKey struct {
	ID        string
	Name      string
	CompanyID string // the only company the key may touch; "" for all
	CreatedAt time.Time
	RevokedAt time.Time
}

// apiKeyPrefix marks Twostep API keys, so that secret scanners and people
// can recognise one.
const apiKeyPrefix = "tsk_"

// HashAPIKey returns the stored form of a key. Keys carry 256 random bits,
// so a fast hash is enough: there is nothing to brute-force.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LooksLikeAPIKey reports whether s has the shape of a key, to skip a
// database lookup for garbage.
func LooksLikeAPIKey(s string) bool {
	return strings.HasPrefix(s, apiKeyPrefix) && len(s) > len(apiKeyPrefix)+40 && len(s) < 200
}

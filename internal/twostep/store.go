package twostep

import (
	"context"
	"time"
)

// Store keeps Twostep's state. Each service call runs in one transaction,
// so a change, its audit event and (later) its outbox message commit
// together or not at all.
type Store interface {
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is what the service may ask of the store inside a transaction. The
// store answers questions atomically; it does not decide. Methods return
// ErrNotFound and ErrConflict for missing and colliding rows.
type Tx interface {
	// Now is the database's clock, read once per transaction: instances
	// whose own clocks disagree still agree on expiry and lockouts.
	Now(ctx context.Context) (time.Time, error)
	CompanyStore
	UserStore
	AuditStore
	APIKeyStore
}

// CompanyStore keeps companies and their settings.
type CompanyStore interface {
	CreateCompany(ctx context.Context, c Company) error
	Company(ctx context.Context, id string) (Company, error)
	// CompanyForUpdate reads a company and holds it against concurrent
	// writers until the transaction ends.
	CompanyForUpdate(ctx context.Context, id string) (Company, error)
	UpdateSettings(ctx context.Context, companyID string, s Settings) error
	// CompanyIDs lists company ids in order, after the given one.
	CompanyIDs(ctx context.Context, after string, limit int) ([]string, error)
}

// UserStore keeps users. Every method is scoped by company.
type UserStore interface {
	// CreateUser returns ErrConflict when the external id is taken.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, companyID, id string) (User, error)
	// UserForUpdate reads a user and holds it against concurrent writers
	// until the transaction ends.
	UserForUpdate(ctx context.Context, companyID, id string) (User, error)
	// UpdateUser returns ErrConflict when the external id is taken.
	UpdateUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, companyID, id string) error
	// Users returns a page of users by name and the cursor of the next
	// page ("" on the last).
	Users(ctx context.Context, companyID string, f UserFilter) ([]User, string, error)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// NextAuditSeq advances the company's chain by one and returns the new
	// event's seq and the hash of the event before it. It holds the chain
	// until the transaction ends, so concurrent appends line up.
	NextAuditSeq(ctx context.Context, companyID string) (seq int64, prevHash string, err error)
	// InsertAuditEvent stores e and makes it the head of its chain.
	InsertAuditEvent(ctx context.Context, e AuditEvent) error
	// AuditEvents returns a page of events newest first and the cursor of
	// the next page ("" on the last).
	AuditEvents(ctx context.Context, companyID string, f AuditFilter) ([]AuditEvent, string, error)
	// AuditChain returns up to limit events with seq > after, oldest first.
	AuditChain(ctx context.Context, companyID string, after int64, limit int) ([]AuditEvent, error)
	AuditHead(ctx context.Context, companyID string) (AuditHead, error)
}

// APIKeyStore keeps API keys, by the hash of the key.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k APIKey, hash string) error
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	APIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
}

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
// ErrNotFound and ErrConflict for missing and colliding rows. It is the
// sum of the small stores each part of the service uses, declared beside
// that part; code that needs one of them takes that one (as the proof
// methods take an AuthenticatorStore).
type Tx interface {
	// Now is the database's clock, read once per transaction: instances
	// whose own clocks disagree still agree on expiry and lockouts.
	Now(ctx context.Context) (time.Time, error)
	// Directory.
	CompanyStore
	UserStore
	APIKeyStore
	// SignIns and Enrolment.
	ChallengeStore
	LimitStore
	StatsStore
	AuthenticatorStore // authenticator.go
	EnrollmentStore    // enrollment.go
	DeviceStore        // device.go
	// Accounts.
	AdminStore
	// Events.
	EventStore    // events.go
	EndpointStore // events_endpoints.go
	// Every part.
	AuditStore
	OutboxStore
	PruneStore
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
	// CountUsers counts the users a list with this query would show.
	CountUsers(ctx context.Context, companyID, query string) (int, error)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// NextAuditSeq advances the company's chain by one and returns the new
	// event's seq and the hash and time of the event before it. It holds the chain
	// until the transaction ends, so concurrent appends line up.
	NextAuditSeq(ctx context.Context, companyID string) (seq int64, prevHash string, prevTime time.Time, err error)
	// InsertAuditEvent stores e and makes it the head of its chain.
	InsertAuditEvent(ctx context.Context, e AuditEvent) error
	// AuditEvents returns a page of events newest first and the cursor of
	// the next page ("" on the last).
	AuditEvents(ctx context.Context, companyID string, f AuditFilter) ([]AuditEvent, string, error)
	// CountAuditEvents counts the events matching f, up to limit.
	CountAuditEvents(ctx context.Context, companyID string, f AuditFilter, limit int) (int, error)
	// AuditChain returns up to limit events with seq > after, oldest first.
	AuditChain(ctx context.Context, companyID string, after int64, limit int) ([]AuditEvent, error)
	AuditHead(ctx context.Context, companyID string) (AuditHead, error)
	// AuditHeads returns up to limit companies' heads, by id, after the
	// given one.
	AuditHeads(ctx context.Context, after string, limit int) ([]CheckpointHead, error)
}

// APIKeyStore keeps API keys, by the hash of the key.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k APIKey, hash string) error
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	APIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
}

// ChallengeStore keeps challenges and each user's lockout per app.
type ChallengeStore interface {
	CreateChallenge(ctx context.Context, ch Challenge) error
	Challenge(ctx context.Context, id string) (Challenge, error)
	// ChallengeForUpdate reads a challenge and holds it against concurrent
	// writers until the transaction ends.
	ChallengeForUpdate(ctx context.Context, id string) (Challenge, error)
	// UpdateChallenge stores next only while the stored challenge still has
	// prev's status, code hash and attempts; otherwise it returns
	// ErrConflict and changes nothing. Each guess is decided once.
	UpdateChallenge(ctx context.Context, prev, next Challenge) error
	// Lockout returns a user's lockout in one app; none is a zero one.
	Lockout(ctx context.Context, companyID, userID string, app App) (Lockout, error)
	// LockoutForUpdate returns it and holds it until the transaction ends.
	LockoutForUpdate(ctx context.Context, companyID, userID string, app App) (Lockout, error)
	// SaveLockout stores next only while the stored failures are prev's;
	// otherwise it returns ErrConflict.
	SaveLockout(ctx context.Context, prev, next Lockout) error
	// Lockouts returns a user's lockouts in every app that has one.
	Lockouts(ctx context.Context, companyID, userID string) ([]Lockout, error)
	// LockoutsOfUsers returns the lockouts of several users of a company.
	LockoutsOfUsers(ctx context.Context, companyID string, userIDs []string) ([]Lockout, error)
	// ChallengeByVerifyToken finds the challenge of a hosted page's token.
	ChallengeByVerifyToken(ctx context.Context, tokenHash string) (Challenge, error)
	// UserChallenges returns a user's latest challenges, newest first.
	UserChallenges(ctx context.Context, companyID, userID string, limit int) ([]Challenge, error)
}

// OutboxStore keeps the messages waiting to be sent. A message commits
// with the change that makes it, and leaves only when it is sent or has
// failed for good.
type OutboxStore interface {
	// EnqueueMessage stores m and returns its id.
	EnqueueMessage(ctx context.Context, m OutboxMessage) (int64, error)
	// CancelMessages cancels the challenge's messages that are still queued.
	CancelMessages(ctx context.Context, challengeID string, at time.Time) error
	// LatestDelivery is the state of the challenge's newest message.
	LatestDelivery(ctx context.Context, challengeID string) (Delivery, error)
	// ClaimMessages leases up to limit queued messages that are due at now,
	// skipping those another worker holds, until leaseUntil.
	ClaimMessages(ctx context.Context, now, leaseUntil time.Time, limit int) ([]OutboxMessage, error)
	Message(ctx context.Context, id int64) (OutboxMessage, error)
	// FinishMessage ends a queued message as sent or failed, dropping its
	// sealed code; ErrNotFound when it is no longer queued.
	FinishMessage(ctx context.Context, id int64, status DeliveryStatus, providerID, lastError string, at time.Time) error
	// RetryMessage puts a message back in the queue until at.
	RetryMessage(ctx context.Context, id int64, at time.Time, lastError string) error
	// OutboxDepth counts the queued messages.
	OutboxDepth(ctx context.Context) (int, error)
}

// LimitStore keeps the counters that stop SMS pumping and code bombing.
type LimitStore interface {
	// RateHits returns the recent hits of each key (distinct), oldest
	// first, and holds the keys, in the order given, until the
	// transaction ends.
	RateHits(ctx context.Context, keys ...string) ([][]time.Time, error)
	// SaveRateHits stores hits[i] as the hits of keys[i], which matter
	// until keepUntil.
	SaveRateHits(ctx context.Context, keys []string, hits [][]time.Time, keepUntil time.Time) error
	// CountUpTo adds one to key's count unless the count has reached limit,
	// in one statement, and reports whether it did. A new count matters
	// until keepUntil.
	CountUpTo(ctx context.Context, key string, limit int, keepUntil time.Time) (bool, error)
}

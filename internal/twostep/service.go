// Package twostep holds Twostep's nouns and rules: companies and their 2FA
// settings, users and their per-app switches, the audit log, and the Service
// that applies the rules over a Store. It does no I/O of its own; storage,
// the web and delivery live in their own packages and plug in here.
package twostep

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/twostep/twostep/result"
)

// Service applies Twostep's rules. Every method that changes state runs in
// one store transaction, with its audit events. It is the sum of the
// domain's parts, each a type of its own over the same core, with its
// methods in its own files:
//
//   - Directory: companies, their settings, users and API keys
//     (service_company.go, service_user.go, service_apikey.go);
//   - SignIns: challenges and the methods that prove them — sent codes,
//     authenticator apps, recovery codes — lockouts and the hosted
//     verification page (challenge_*.go, method*.go, lockouts.go,
//     service_page.go);
//   - Enrolment: users' authenticator apps and recovery codes, and the
//     hosted enrolment page (service_authenticators.go, enrollment*.go);
//   - Accounts: the console's admins, their sign-in, sessions and pages
//     (service_admin.go, console_*.go, bulk.go);
//   - AuditLog: reading, exporting, verifying and anchoring the log
//     (service_audit.go, audit_checkpoint.go);
//   - Outbox: the messages waiting to go, and pruning (outbox.go, prune.go);
//   - Events: the feed of events, the endpoints they are delivered to,
//     and the notifications they send (events*.go, notify*.go).
type Service struct {
	*core
	*Directory
	*SignIns
	*Enrolment
	*Accounts
	*AuditLog
	*Outbox
	*Events
}

// The parts. Each holds the core; a part that uses another holds it by
// name, so that what depends on what is written down.
type (
	Directory struct{ *core }
	SignIns   struct{ *core }
	Enrolment struct {
		*core
		signIns *SignIns // the sign-in that sent a user to enrolment
	}
	Accounts struct {
		*core
		signIns   *SignIns
		directory *Directory
	}
	AuditLog struct{ *core }
	Outbox   struct {
		*core
		accounts *Accounts // a console email that cannot go is the console's to record
	}
	Events struct{ *core }
)

// core is what every part shares: the store, the keys and the settings
// of the process, and the steps every part takes (reading a company or
// user the caller may see, writing an audit event, running a
// transaction, sending a message).
type core struct {
	store         Store
	rand          io.Reader
	auditKey      []byte
	codeKey       []byte
	sealer        sealer
	codeTTL       time.Duration
	cooldown      time.Duration
	returnOrigins []string
	noSMS         bool
	smsGlobalCap  int
	courier       Courier
	signer        *result.Signer
	now           func() time.Time // this process's clock, for keys
	keys          keyCache
	passwords     *passwordHasher
	checkpointKey ed25519.PrivateKey
	relyingParty  *webauthn.WebAuthn // nil: passkeys are off
}

// Options configure a Service. A zero Rand takes crypto/rand; tests inject
// their own. Time comes from the store (Tx.Now), so tests set the clock
// there.
type Options struct {
	Rand      io.Reader
	AuditKey  []byte // HMAC key of the audit hash chain
	CodeKey   []byte // HMAC key of codes at rest
	OutboxKey []byte // AES-256 key of codes waiting in the outbox
	// CodeTTL is a code's lifetime (DefaultCodeTTL when zero);
	// ResendCooldown the wait between sends on one challenge (none when
	// zero).
	CodeTTL        time.Duration
	ResendCooldown time.Duration
	// ReturnOrigins are the origins every company may return to.
	ReturnOrigins []string
	// NoSMS: the operator runs without an SMS provider, so every code goes
	// by email.
	NoSMS bool
	// SMSGlobalDailyCap bounds the SMS of all companies together per UTC
	// day; 0 for no such cap.
	SMSGlobalDailyCap int
	// CheckpointSeed is the Ed25519 seed that signs audit checkpoints.
	CheckpointSeed []byte
	// Signer signs the results the hosted page returns; nil for none.
	Signer *result.Signer
	// Now is this process's clock, which times the cache of checked API
	// keys (time.Now when nil); the rules take their time from the store.
	Now func() time.Time
	// PublicURL is where the hosted pages live; with it, passkeys are on,
	// for the relying party WebAuthnRPID (default: the URL's host).
	PublicURL    string
	WebAuthnRPID string
}

// DefaultCodeTTL is a code's lifetime when Options leave it out.
const DefaultCodeTTL = 5 * time.Minute

// NewService returns a Service over store.
func NewService(store Store, opt Options) *Service {
	s := &core{store: store, rand: opt.Rand, auditKey: opt.AuditKey, codeKey: opt.CodeKey,
		codeTTL: opt.CodeTTL, cooldown: opt.ResendCooldown, returnOrigins: opt.ReturnOrigins,
		signer: opt.Signer, now: opt.Now, noSMS: opt.NoSMS, smsGlobalCap: opt.SMSGlobalDailyCap}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.codeTTL == 0 {
		s.codeTTL = DefaultCodeTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.passwords = newPasswordHasher(runtime.NumCPU(), argonWait)
	if opt.PublicURL != "" {
		var err error
		if s.relyingParty, err = newRelyingParty(opt.PublicURL, opt.WebAuthnRPID); err != nil {
			panic(err) // the configuration checks the URL and RP id first
		}
	}
	if len(opt.CheckpointSeed) == ed25519.SeedSize {
		s.checkpointKey = ed25519.NewKeyFromSeed(opt.CheckpointSeed)
	}
	if opt.OutboxKey != nil { // a Service without one (a CLI command) cannot send
		var err error
		if s.sealer, err = newSealer(opt.OutboxKey); err != nil {
			panic(err) // keys come from LoadSecrets, always 32 bytes
		}
	}
	d, si := &Directory{s}, &SignIns{s}
	a := &Accounts{core: s, signIns: si, directory: d}
	return &Service{core: s, Directory: d, SignIns: si, Enrolment: &Enrolment{core: s, signIns: si}, Accounts: a,
		AuditLog: &AuditLog{s}, Outbox: &Outbox{core: s, accounts: a}, Events: &Events{s}}
}

// Courier is this process's outbox worker, as the service sees it.
type Courier interface {
	// Notify wakes it: a message was queued for any worker to claim.
	Notify()
	// Take gives it a message this process leased as it queued it, with
	// its code, to send without claiming it from the outbox first.
	Take(Message)
	// Lease is how long such a message is leased to this process.
	Lease() time.Duration
}

// SetCourier makes c the worker that sends what this service queues: it
// is woken for each message, or handed the message itself. Call it
// before the service is used; without one, messages wait for any
// worker's next look at the outbox.
func (s *Service) SetCourier(c Courier) { s.courier = c }

// Caller is who makes a request and from where.
type Caller struct {
	KeyID   string // the API key, if the caller used one
	KeyName string
	// Scope is the only company the caller may touch; "" for all.
	Scope string
	// UserID is the company user on whose behalf the caller acts (the
	// Twostep-Actor header, or the signed-in admin). It becomes the audit
	// log's User.
	UserID    string
	IP        string
	UserAgent string
}

// canSee reports whether the caller may touch the company at all.
func (c Caller) canSee(companyID string) bool {
	return c.Scope == "" || c.Scope == companyID
}

// ActorField is the name under which a bad actor is reported.
const ActorField = "Twostep-Actor"

// actor resolves who the audit log names for the caller, checking that an
// acting user belongs to the company.
func (s *core) actor(ctx context.Context, tx Tx, c Caller, companyID string) (Actor, error) {
	if c.UserID != "" {
		u, err := tx.User(ctx, companyID, c.UserID)
		if errors.Is(err, ErrNotFound) {
			return Actor{}, Invalid(ActorField, "%s must be the id of a user of this company", ActorField)
		}
		if err != nil {
			return Actor{}, err
		}
		return Actor{Type: ActorUser, ID: u.ID, Name: u.Name}, nil
	}
	if c.KeyID != "" {
		return Actor{Type: ActorAPIKey, ID: c.KeyID, Name: c.KeyName}, nil
	}
	return systemActor, nil
}

// company checks the caller's access to a company and reads it, so that
// "not yours" and "not there" look the same.
func (s *core) company(ctx context.Context, tx Tx, c Caller, id string, forUpdate bool) (Company, Actor, error) {
	if !c.canSee(id) {
		return Company{}, Actor{}, NotFound("company")
	}
	read := tx.Company
	if forUpdate {
		read = tx.CompanyForUpdate
	}
	co, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Company{}, Actor{}, NotFound("company")
	}
	if err != nil {
		return Company{}, Actor{}, err
	}
	a, err := s.actor(ctx, tx, c, id)
	return co, a, err
}

// audit appends one event to the company's hash chain. It fills in the id,
// seq, time and hash; the caller gives the rest.
func (s *core) audit(ctx context.Context, tx Tx, c Caller, e AuditEvent) error {
	var err error
	if e.ID, err = newID(s.rand, prefixEvent); err != nil {
		return err
	}
	seq, prev, prevTime, err := tx.NextAuditSeq(ctx, e.CompanyID)
	if err != nil {
		return err
	}
	e.Seq = seq
	if e.Time.IsZero() {
		if e.Time, err = tx.Now(ctx); err != nil {
			return err
		}
	}
	// Time never goes back along a chain, whatever the clocks of the
	// instances appending to it: a time range is then a seq range.
	if e.Time.Before(prevTime) {
		e.Time = prevTime
	}
	if e.IP == "" && e.UserAgent == "" {
		e.IP, e.UserAgent = c.IP, c.UserAgent
	}
	e.Hash = ChainHash(s.auditKey, prev, e)
	if err := tx.InsertAuditEvent(ctx, e); err != nil {
		return err
	}
	if err := emitAudit(ctx, tx, e); err != nil {
		return err
	}
	return s.notify(ctx, tx, e)
}

// details encodes an audit event's details.
func details(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil // only plain values reach here
	}
	return b
}

// update runs fn in a read-write transaction and returns its errors as *Error.
func (s *core) update(ctx context.Context, fn func(Tx) error) error {
	if err := s.store.Update(ctx, fn); err != nil {
		return AsError(err)
	}
	return nil
}

// view runs fn in a read-only transaction and returns its errors as *Error.
func (s *core) view(ctx context.Context, fn func(Tx) error) error {
	if err := s.store.View(ctx, fn); err != nil {
		return AsError(err)
	}
	return nil
}

package twostep

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Action names what an audit event records.
type Action string

// The audit actions. The first seven are the product's contract; the user
// actions record the rest of what an admin would want to trace.
const (
	ActionSettingsGeneralChanged  Action = "settings.general_changed"
	ActionSettingsDefaultsChanged Action = "settings.defaults_changed"
	ActionTwoFAEnabled            Action = "user.2fa_enabled"
	ActionTwoFADisabled           Action = "user.2fa_disabled"
	ActionTwoFAFailedAttempts     Action = "user.2fa_failed_attempts"
	ActionTwoFALocked             Action = "user.2fa_locked"
	ActionTwoFAUnlocked           Action = "user.2fa_unlocked"
	ActionUserCreated             Action = "user.created"
	ActionUserUpdated             Action = "user.updated"
	ActionUserDeleted             Action = "user.deleted"
	ActionDeliveryFailed          Action = "user.2fa_delivery_failed"
	// Authenticators.
	ActionAuthenticatorAdded     Action = "user.authenticator_added"
	ActionAuthenticatorRemoved   Action = "user.authenticator_removed"
	ActionRecoveryCodesGenerated Action = "user.recovery_codes_generated"
	ActionRecoveryCodeUsed       Action = "user.recovery_code_used"
	ActionDevicesRevoked         Action = "user.devices_revoked"
	// The console's admins.
	ActionAdminInvited             Action = "admin.invited"
	ActionAdminRemoved             Action = "admin.removed"
	ActionAdminPasswordReset       Action = "admin.password_reset_requested"
	ActionAdminPasswordSet         Action = "admin.password_set"
	ActionAdminSignedOutEverywhere Action = "admin.signed_out_everywhere"
	// Notifications (notify.go).
	ActionNotificationSent Action = "notification.sent"
)

// Actions lists every action, for filters and documentation.
var Actions = []Action{
	ActionSettingsGeneralChanged, ActionSettingsDefaultsChanged,
	ActionTwoFAEnabled, ActionTwoFADisabled, ActionTwoFAFailedAttempts,
	ActionTwoFALocked, ActionTwoFAUnlocked,
	ActionUserCreated, ActionUserUpdated, ActionUserDeleted, ActionDeliveryFailed,
	ActionAuthenticatorAdded, ActionAuthenticatorRemoved, ActionRecoveryCodesGenerated, ActionRecoveryCodeUsed,
	ActionDevicesRevoked,
	ActionAdminInvited, ActionAdminRemoved, ActionAdminPasswordReset, ActionAdminPasswordSet,
	ActionAdminSignedOutEverywhere, ActionNotificationSent,
}

// ParseAction checks an action name.
func ParseAction(field, s string) (Action, error) {
	for _, a := range Actions {
		if string(a) == s {
			return a, nil
		}
	}
	return "", Invalid(field, "%s is not a known audit action", field)
}

// ActorType says what kind of actor performed an action.
type ActorType string

// The actor types.
const (
	ActorUser   ActorType = "user"
	ActorAPIKey ActorType = "api_key"
	ActorSystem ActorType = "system"
)

// Actor is who performed an action: the seed's "User" column.
type Actor struct {
	Type ActorType `json:"type"`
	ID   string    `json:"id"`
	Name string    `json:"name"`
}

// systemActor is Twostep itself, for what no person or key did.
var systemActor = Actor{Type: ActorSystem, ID: "twostep", Name: "Twostep"}

// AuditEvent is one entry of a company's audit log. Seq numbers a
// company's events 1, 2, 3… and Hash chains each to the one before.
type AuditEvent struct {
	ID         string
	CompanyID  string
	Seq        int64
	Time       time.Time
	Actor      Actor
	Action     Action
	TargetID   string // the user the action was about, if any
	TargetName string // that user's name at the time
	App        App
	Details    json.RawMessage // {field, from, to} for changes; nil when none
	IP         string
	UserAgent  string
	Hash       string
}

// ChainHash returns the hash of e chained to the hash of the event before it
// ("" for a company's first event). It is an HMAC, so someone who can write
// to the database but has not got the secret cannot forge a consistent chain.
func ChainHash(key []byte, prev string, e AuditEvent) string {
	canonical, err := json.Marshal([]any{
		e.CompanyID, e.Seq, e.ID, e.Time.UTC().UnixMicro(),
		e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Action,
		e.TargetID, e.TargetName, e.App, string(e.Details), e.IP, e.UserAgent,
	})
	if err != nil {
		panic(fmt.Sprintf("audit: canonical encoding: %v", err)) // only strings and numbers above
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(prev))
	m.Write([]byte{0})
	m.Write(canonical)
	return hex.EncodeToString(m.Sum(nil))
}

// AuditFilter selects a company's audit events, newest first.
type AuditFilter struct {
	Action Action
	UserID string // events by or about this user
	Since  time.Time
	Until  time.Time
	Cursor string
	Limit  int
}

// AuditHead is the end of a company's chain, kept beside the company so that
// deleting the newest events is noticed too.
type AuditHead struct {
	Seq  int64
	Hash string
}

// ChainBreak describes the first event at which a company's chain fails.
type ChainBreak struct {
	CompanyID string
	EventID   string
	Seq       int64
	Reason    string
}

func (b ChainBreak) String() string {
	return fmt.Sprintf("company %s: event %s (seq %d): %s", b.CompanyID, b.EventID, b.Seq, b.Reason)
}

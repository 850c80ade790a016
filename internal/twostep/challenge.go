package twostep

import (
	"slices"
	"strings"
	"time"
)

// Channel is how a code travels.
type Channel string

// The channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
)

// ChallengeStatus is where a sign-in's second step stands.
type ChallengeStatus string

// The statuses. A challenge is stored as pending or approved; expired and
// locked are how a pending one reads when its code has run out or its
// user and app are locked.
const (
	StatusPending  ChallengeStatus = "pending"
	StatusApproved ChallengeStatus = "approved"
	StatusExpired  ChallengeStatus = "expired"
	StatusLocked   ChallengeStatus = "locked"
)

// The sign-in rules' numbers.
const (
	GuessesPerCode      = 3                // wrong guesses that void a code
	ContactAfter        = 3                // consecutive failures that show the responsible contact
	LockAfter           = 10               // consecutive failures that lock the user and app…
	LockFor             = 15 * time.Minute // …for this long
	MaxFailures         = 100              // consecutive failures after which only an admin unlocks
	ChallengeLifetime   = 15 * time.Minute // a challenge takes codes and resends this long after it starts
	SendsPerChallenge   = 5
	SendsPerUser        = 10 // per hour
	SendsPerDestination = 10 // per hour
	SendsPerIP          = 100
	sendWindow          = time.Hour
)

// lockedForever is the end of a lock that only an admin can lift.
var lockedForever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Challenge is one sign-in's second step for one user and one app. It
// holds at most one live code, kept only as a hash.
type Challenge struct {
	ID        string
	CompanyID string
	UserID    string
	App       App
	Status    ChallengeStatus // pending or approved
	// Method is what the challenge expects now, or, once approved, what
	// proved it; "" in challenges from before methods (see expects).
	Method        Method
	Channel       Channel // of the current code; "" while none was sent
	Destination   string  // the phone or email the current code went to
	CodeHash      string  // "" once the code is used or void
	CodeAttempts  int     // wrong guesses at the current code
	CodeExpiresAt time.Time
	LastSentAt    time.Time
	Sends         int
	Failures      int  // wrong guesses in this challenge, over all its codes
	SMSFailed     bool // an SMS of this challenge could not be delivered
	// EnrollmentRequired: the app wants a strong authenticator that the
	// user, in their grace period, has not added yet.
	EnrollmentRequired bool
	// DeviceTokenSealed is the device token an approval made on the hosted
	// page, sealed, until the platform reads it once; "" otherwise.
	DeviceTokenSealed string
	// Console: the console's own sign-in of an admin, to which the
	// company's strong-authentication policy for its apps does not apply.
	Console   bool
	IP        string
	UserAgent string
	ReturnURL string
	// Nonce is the platform's value for this sign-in, echoed in the
	// signed result.
	Nonce string
	// VerifyTokenHash is the hash of the hosted page's token, when the
	// challenge has a return URL.
	VerifyTokenHash string
	CreatedAt       time.Time
	ApprovedAt      time.Time
}

// over reports whether the challenge's time is up at now: it takes no
// more codes or resends, whatever its code's own expiry.
func (ch Challenge) over(now time.Time) bool { return !now.Before(ch.ends()) }

// ends is when the challenge's time is up.
func (ch Challenge) ends() time.Time { return ch.CreatedAt.Add(ChallengeLifetime) }

// Lockout is a user's consecutive failures in one app, which survive new
// codes and new challenges and end only with a correct code or an admin's
// unlock.
type Lockout struct {
	CompanyID   string
	UserID      string
	App         App
	Failures    int
	LockedUntil time.Time
}

// Locked reports whether the user and app are locked at now.
func (l Lockout) Locked(now time.Time) bool { return now.Before(l.LockedUntil) }

// failed returns the lockout after one more wrong code and the audit
// actions that crossing a threshold calls for.
func (l Lockout) failed(now time.Time) (Lockout, []Action) {
	l.Failures++
	var actions []Action
	if l.Failures == ContactAfter {
		actions = append(actions, ActionTwoFAFailedAttempts)
	}
	switch {
	case l.Failures >= MaxFailures:
		l.LockedUntil = lockedForever
		actions = append(actions, ActionTwoFALocked)
	case l.Failures%LockAfter == 0:
		l.LockedUntil = now.Add(LockFor)
		actions = append(actions, ActionTwoFALocked)
	}
	return l, actions
}

// Delivery is the state of the newest message of a challenge.
type Delivery struct {
	Status  DeliveryStatus
	Channel Channel
}

// DeliveryStatus is where a message stands in the outbox.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryQueued    DeliveryStatus = "queued"
	DeliverySent      DeliveryStatus = "sent"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryCancelled DeliveryStatus = "cancelled" // replaced by a newer code before it went out
)

// ChallengeView is a challenge as its reader sees it: the stored state
// read against the clock, the user's lockout and the company's policy.
type ChallengeView struct {
	Challenge
	Status             ChallengeStatus
	DestinationHint    string
	ChannelsAvailable  []Channel
	FailedAttempts     int // the user's consecutive failures in this app
	AttemptsRemaining  int
	ResendAvailableAt  time.Time // zero when no more codes may be sent
	ResponsibleContact *Contact  // after ContactAfter consecutive failures
	LockedUntil        time.Time
	Delivery           Delivery
	MethodsAvailable   []Method
	ExpiresAt          time.Time // of the current code, or of the challenge when it expects no sent code
	// DeviceToken is a new remembered device's token, in the one answer
	// that hands it over.
	DeviceToken string
}

// view computes what a reader of the challenge sees at now.
func (ch Challenge) view(now time.Time, policy policy, l Lockout, d Delivery, cooldown time.Duration) ChallengeView {
	v := ChallengeView{Challenge: ch, Status: ch.Status, DestinationHint: MaskDestination(ch.Destination),
		FailedAttempts: l.Failures, Delivery: d}
	over := ch.over(now)
	sent := ch.expects().sent()
	// A sent code that expired ends the challenge only when nothing else
	// can prove it: an authenticator app or a recovery code still can,
	// until the challenge's own end.
	codeOut := sent && !now.Before(ch.CodeExpiresAt) && !policy.strength.strong() && policy.strength.factors.RecoveryCodes == 0
	v.ExpiresAt = ch.CodeExpiresAt
	if !sent || (!now.Before(ch.CodeExpiresAt) && !codeOut) {
		v.ExpiresAt = ch.ends()
	}
	if ch.Status == StatusPending {
		switch {
		case l.Locked(now):
			v.Status, v.LockedUntil = StatusLocked, l.LockedUntil
		case over || codeOut:
			v.Status = StatusExpired
		}
	}
	switch {
	case v.Status != StatusPending:
	case sent && ch.CodeHash != "":
		v.AttemptsRemaining = min(GuessesPerCode-ch.CodeAttempts, LockAfter-l.Failures%LockAfter)
	case !sent:
		v.AttemptsRemaining = LockAfter - l.Failures%LockAfter
	}
	if ch.Status == StatusPending && !over {
		v.ChannelsAvailable = policy.sendable(ch, now)
		v.MethodsAvailable = policy.methods(ch, now)
		if ch.Sends < SendsPerChallenge && len(v.ChannelsAvailable) > 0 {
			v.ResendAvailableAt = ch.LastSentAt.Add(cooldown)
			if ch.Sends == 0 {
				v.ResendAvailableAt = ch.CreatedAt
			}
		}
	}
	if l.Failures >= ContactAfter && !policy.contact.IsZero() {
		c := policy.contact
		v.ResponsibleContact = &c
	}
	return v
}

// policy is what decides a user's channels: the company's settings and
// the user's addresses.
type policy struct {
	method  DeliveryMethod
	contact Contact
	phone   string // "" when the user has none, or it cannot take SMS
	email   string
	smsOff  bool // the company's daily SMS cap is 0, or the operator has no SMS provider
	// strength decides the methods beyond sent codes (see method_policy.go).
	strength strength
}

func newPolicy(s Settings, u User) policy {
	p := policy{method: s.DeliveryMethod, contact: s.ResponsibleContact, email: u.Email, smsOff: s.SMSDailyCap == 0}
	// Phones are checked when saved; check again, as rules may have
	// tightened since: SMS goes only to numbers that can take it, in the
	// regions the company allows.
	if phone, err := NormalizePhone("phone", u.Phone, MobilePhone); err == nil &&
		(len(s.SMSCountries) == 0 || slices.Contains(s.SMSCountries, phoneRegion(phone))) {
		p.phone = phone
	}
	return p
}

// smsPossible reports whether this user can get codes by SMS at all.
func (p policy) smsPossible() bool {
	return p.method == SMSThenEmail && p.phone != "" && !p.smsOff
}

// first picks the first code's channel: SMS under sms_then_email when the
// user can take SMS, otherwise email. It returns "" when the user has no
// usable address.
func (p policy) first() Channel {
	switch {
	case p.smsPossible():
		return ChannelSMS
	case p.email != "":
		return ChannelEmail
	}
	return ""
}

// channels lists the channels a new code of ch may use. Under
// sms_then_email, email joins SMS after the first wrong code in the
// challenge, or when an SMS could not be delivered.
func (p policy) channels(ch Challenge) []Channel {
	var out []Channel
	if p.smsPossible() {
		out = append(out, ChannelSMS)
	}
	// A code that already went by email (the SMS cap was spent, say)
	// keeps email open too.
	if p.email != "" && (!p.smsPossible() || ch.Failures > 0 || ch.SMSFailed || ch.Channel == ChannelEmail) {
		out = append(out, ChannelEmail)
	}
	return out
}

// destination is the address for a channel.
func (p policy) destination(c Channel) string {
	if c == ChannelSMS {
		return p.phone
	}
	return p.email
}

// MaskDestination hides most of an address: a phone keeps its first three
// and last two characters (+37*******01), an email its first letter and
// domain (j***@example.com).
func MaskDestination(d string) string {
	if at := strings.LastIndexByte(d, '@'); at > 0 {
		return d[:1] + "***" + d[at:]
	}
	if len(d) <= 5 {
		return strings.Repeat("*", len(d))
	}
	return d[:3] + strings.Repeat("*", len(d)-5) + d[len(d)-2:]
}

// hasChannel reports whether c is among cs.
func hasChannel(cs []Channel, c Channel) bool { return slices.Contains(cs, c) }

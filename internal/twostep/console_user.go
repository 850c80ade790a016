package twostep

import (
	"context"
	"time"
)

// UserPage is what the console's page of one user shows: who they are,
// their 2FA and lock in each app, and their latest sign-ins.
type UserPage struct {
	User    User
	Apps    []UserApp
	SignIns []SignIn // newest first, at most UserPageSignIns
	// Authenticators are the user's confirmed authenticators, oldest
	// first, and RecoveryCodes how many recovery codes they have left.
	Authenticators []Authenticator
	RecoveryCodes  int
	// Devices are the browsers the user is remembered in, newest first.
	Devices []Device
	Now     time.Time
}

// UserApp is a user's state in one app.
type UserApp struct {
	App      App
	On       bool // 2FA is on
	Failures int  // wrong codes in a row
	// LockedUntil is when a pause after wrong codes (LockAfter) ends;
	// zero when the user is not paused.
	LockedUntil time.Time
}

// SignIn is one second step of a user's, as the console shows it.
type SignIn struct {
	ID        string
	Time      time.Time
	App       App
	Channel   Channel // of the last code sent
	Method    Method  // what proved it, once approved; else what it expects
	Result    SignInResult
	Failures  int // wrong codes in it
	IP        string
	UserAgent string
}

// SignInResult is how a second step ended, or that it has not yet.
type SignInResult string

const (
	SignInApproved   SignInResult = "approved"    // a right code
	SignInFailed     SignInResult = "failed"      // wrong codes, none right yet
	SignInPending    SignInResult = "pending"     // still taking codes, none typed
	SignInNotEntered SignInResult = "not_entered" // over, no code entered
)

// UserPageSignIns is how many sign-ins the user page shows. Challenges
// are kept for ChallengeRetention, so older ones are gone anyway.
const UserPageSignIns = 20

// ConsoleUser reads the console's page of one user in one read
// transaction.
func (s *Accounts) ConsoleUser(ctx context.Context, c Caller, companyID, userID string) (UserPage, error) {
	var out UserPage
	err := s.view(ctx, func(tx Tx) error {
		co, _, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, companyID, userID, false)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		lockouts, err := tx.Lockouts(ctx, companyID, userID)
		if err != nil {
			return err
		}
		challenges, err := tx.UserChallenges(ctx, companyID, userID, UserPageSignIns)
		if err != nil {
			return err
		}
		apps, err := tx.Authenticators(ctx, companyID, userID)
		if err != nil {
			return err
		}
		for _, a := range apps {
			if a.Confirmed() {
				out.Authenticators = append(out.Authenticators, a)
			}
		}
		f, err := tx.Factors(ctx, companyID, userID)
		if err != nil {
			return err
		}
		out.User, out.Now, out.RecoveryCodes = u, now, f.RecoveryCodes
		if out.Devices, err = liveDevices(ctx, tx, co, userID, now); err != nil {
			return err
		}
		for _, app := range Apps {
			a := UserApp{App: app, On: u.TwoFA.For(app)}
			for _, l := range lockouts {
				if l.App == app {
					a.Failures = l.Failures
					if l.Locked(now) {
						a.LockedUntil = l.LockedUntil
					}
				}
			}
			out.Apps = append(out.Apps, a)
		}
		for _, ch := range challenges {
			out.SignIns = append(out.SignIns, SignIn{ID: ch.ID, Time: ch.CreatedAt, App: ch.App, Channel: ch.Channel, Method: ch.expects(),
				Result: ch.result(now), Failures: ch.Failures, IP: ch.IP, UserAgent: ch.UserAgent})
		}
		return nil
	})
	return out, err
}

// result is how the challenge stands at now. Wrong codes make it failed
// even while it still takes codes: what an admin looks for is who typed
// wrong codes, and a right code after them makes it approved.
func (ch Challenge) result(now time.Time) SignInResult {
	switch {
	case ch.Status == StatusApproved:
		return SignInApproved
	case ch.Failures > 0 || ch.Status == StatusLocked:
		return SignInFailed
	case !ch.over(now) && ch.Status == StatusPending:
		return SignInPending
	}
	return SignInNotEntered
}

package twostep

import (
	"context"
	"time"
)

// Unlock ends a user's lockout in an app early and resets the count,
// audited. A user with nothing to unlock is left alone, unaudited.
func (s *SignIns) Unlock(ctx context.Context, c Caller, companyID, userID string, app App) (Lockout, error) {
	var out Lockout
	err := s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, companyID, userID, false)
		if err != nil {
			return err
		}
		l, err := tx.LockoutForUpdate(ctx, companyID, userID, app)
		if err != nil {
			return err
		}
		out = l
		if l.Failures == 0 && l.LockedUntil.IsZero() {
			return nil
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		next := l
		next.Failures, next.LockedUntil = 0, time.Time{}
		if err := tx.SaveLockout(ctx, l, next); err != nil {
			return err
		}
		out = next
		d := map[string]any{"failed_attempts": l.Failures, "was_locked": l.Locked(now)}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: companyID, Time: now, Actor: actor,
			Action: ActionTwoFAUnlocked, TargetID: u.ID, TargetName: u.Name, App: app, Details: details(d)})
	})
	return out, err
}

// Lockouts returns a user's lockouts, one per app, read at the database's
// time: for showing an admin who is locked.
func (s *SignIns) Lockouts(ctx context.Context, c Caller, companyID, userID string) (map[App]Lockout, time.Time, error) {
	out := map[App]Lockout{}
	var now time.Time
	err := s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		if _, err := s.user(ctx, tx, companyID, userID, false); err != nil {
			return err
		}
		ls, err := tx.Lockouts(ctx, companyID, userID)
		if err != nil {
			return err
		}
		for _, l := range ls {
			out[l.App] = l
		}
		now, err = tx.Now(ctx)
		return err
	})
	return out, now, err
}

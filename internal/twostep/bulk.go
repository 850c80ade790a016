package twostep

import (
	"context"
	"errors"
)

// Users picks the users a change to many is for: the ones named, or with
// All every user matching Query ("" matching every user).
type Users struct {
	IDs   []string
	All   bool
	Query string
}

// BulkResult counts what a change to many users did.
type BulkResult struct {
	Changed   int // users whose 2FA changed, each with its audit events
	Unchanged int // users who had it so already
	Missing   int // ids named that are no user of the company
}

// MaxBulkIDs is how many users a change may name; more is "all matching".
const MaxBulkIDs = 1000

// bulkBatch is how many users a change to many takes in one transaction:
// each batch commits whole or not at all, and holds its users' rows only
// as long as it takes to change them.
const bulkBatch = 200

// CountUsers counts the company's users that match query ("" for every
// user): the number a question before a change to all of them says.
func (s *Accounts) CountUsers(ctx context.Context, c Caller, companyID, query string) (int, error) {
	var n int
	query, err := cleanQuery(query)
	if err != nil {
		return 0, err
	}
	err = s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		var err error
		n, err = tx.CountUsers(ctx, companyID, query)
		return err
	})
	return n, err
}

// SetTwoFAForUsers turns 2FA on or off in one app for many users, a batch
// at a time, one transaction per batch. Each user changed gets the same
// audit event as one switched alone; a user who has it so already is
// left as they are.
func (s *Accounts) SetTwoFAForUsers(ctx context.Context, c Caller, companyID string, who Users, app App, on bool) (BulkResult, error) {
	return s.changeUsers(ctx, c, companyID, who, func(_ Company, t TwoFA) TwoFA { return t.set(app, on) })
}

// ApplyDefaults gives every user of the company the company's default
// 2FA in each app: the explicit action an admin takes after changing the
// defaults, which by themselves only ever apply to new users.
func (s *Accounts) ApplyDefaults(ctx context.Context, c Caller, companyID string) (BulkResult, error) {
	return s.changeUsers(ctx, c, companyID, Users{All: true}, func(co Company, t TwoFA) TwoFA {
		d := co.Settings.Defaults
		return TwoFA{Web: d.Web, Manager: d.Manager}
	})
}

// changeUsers applies change to each user who picks, a batch per
// transaction. A failed batch stops the change; the batches before it
// stay done, and the result counts them.
func (s *Accounts) changeUsers(ctx context.Context, c Caller, companyID string, who Users, change func(Company, TwoFA) TwoFA) (BulkResult, error) {
	var out BulkResult
	if !who.All && (len(who.IDs) == 0 || len(who.IDs) > MaxBulkIDs) {
		return out, Invalid("users", "name 1 to %d users, or all that match a search", MaxBulkIDs)
	}
	var err error
	if who.Query, err = cleanQuery(who.Query); err != nil {
		return out, err
	}
	ids, cursor := who.IDs, ""
	for {
		// What fn finds is kept aside until its transaction commits: a
		// transaction that runs fn again starts from the same place.
		var (
			batch BulkResult
			next  string
			done  bool
		)
		err := s.update(ctx, func(tx Tx) error {
			batch, next, done = BulkResult{}, "", false
			co, actor, err := s.company(ctx, tx, c, companyID, false)
			if err != nil {
				return err
			}
			var users []User
			if who.All {
				if users, next, err = tx.Users(ctx, companyID, UserFilter{Query: who.Query, Cursor: cursor, Limit: bulkBatch}); err != nil {
					return err
				}
				done = next == ""
			} else {
				n := min(bulkBatch, len(ids))
				for _, id := range ids[:n] {
					users = append(users, User{ID: id})
				}
				done = n == len(ids)
			}
			now, err := tx.Now(ctx)
			if err != nil {
				return err
			}
			for _, picked := range users {
				old, err := s.user(ctx, tx, companyID, picked.ID, true) // as it is now, held
				var e *Error
				if errors.As(err, &e) && e.Code == CodeNotFound {
					batch.Missing++
					continue
				} else if err != nil {
					return err
				}
				u := old
				if u.TwoFA = change(co, old.TwoFA); u.TwoFA == old.TwoFA {
					batch.Unchanged++
					continue
				}
				u.UpdatedAt = now
				if err := tx.UpdateUser(ctx, u); err != nil {
					return err
				}
				if err := s.directory.auditTwoFA(ctx, tx, c, actor, old, u); err != nil {
					return err
				}
				batch.Changed++
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		out.Changed += batch.Changed
		out.Unchanged += batch.Unchanged
		out.Missing += batch.Missing
		if who.All {
			cursor = next
		} else {
			ids = ids[min(bulkBatch, len(ids)):]
		}
		if done {
			return out, nil
		}
	}
}

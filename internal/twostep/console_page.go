package twostep

import "context"

// UsersPage is what the console's Two-factor authentication page shows:
// a page of users with their locks, how many match, the company's
// activity and its latest audit events.
type UsersPage struct {
	Users  []UserRow
	Next   string // the cursor of the next page; "" on the last
	Total  int    // users matching the filter
	Stats  []DayStats
	Recent []AuditEvent // newest first
}

// UserRow is one user of the page and the apps they are locked in now.
type UserRow struct {
	User
	Locked []App
}

// ConsoleUsers reads the console's users page in one read transaction,
// so what it shows is one moment's state and a failure to read any of it
// is an error, not a user shown unlocked.
func (s *Accounts) ConsoleUsers(ctx context.Context, c Caller, companyID string, f UserFilter, statsDays, recent int) (UsersPage, error) {
	var out UsersPage
	var err error
	if f.Limit, err = checkLimit(f.Limit); err != nil {
		return out, err
	}
	if f.Query, err = cleanQuery(f.Query); err != nil {
		return out, err
	}
	err = s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		users, next, err := tx.Users(ctx, companyID, f)
		if err != nil {
			return err
		}
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		lockouts, err := tx.LockoutsOfUsers(ctx, companyID, ids)
		if err != nil {
			return err
		}
		locked := map[string][]App{}
		for _, l := range lockouts {
			if l.Locked(now) {
				locked[l.UserID] = append(locked[l.UserID], l.App)
			}
		}
		out.Users = make([]UserRow, len(users))
		for i, u := range users {
			out.Users[i] = UserRow{User: u, Locked: locked[u.ID]}
		}
		out.Next = next
		if out.Total, err = tx.CountUsers(ctx, companyID, f.Query); err != nil {
			return err
		}
		if out.Stats, err = statsIn(ctx, tx, companyID, statsDays, now); err != nil {
			return err
		}
		out.Recent, _, err = tx.AuditEvents(ctx, companyID, AuditFilter{Limit: recent})
		return err
	})
	return out, err
}

// AuditPage is what the console's audit log page shows: a page of events,
// how many match (up to AuditCountLimit), and the users to filter by.
type AuditPage struct {
	Events []AuditEvent
	Next   string // the cursor of the next, older page; "" on the last
	Total  int    // events matching the filter, at most AuditCountLimit
	// TotalCapped says there are more than Total.
	TotalCapped bool
	Users       []User // the first MaxLimit users by name, for the filter
}

// AuditCountLimit is as far as the audit page counts the events that
// match a filter: a count costs a walk of that many.
const AuditCountLimit = 10_000

// ConsoleAudit reads the console's audit log page in one read
// transaction. Without a filter, the count is the chain's length, exact
// however long.
func (s *Accounts) ConsoleAudit(ctx context.Context, c Caller, companyID string, f AuditFilter) (AuditPage, error) {
	var out AuditPage
	var err error
	if f.Limit, err = checkLimit(f.Limit); err != nil {
		return out, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return out, Invalid("until", "until must be after since")
	}
	err = s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		var err error
		if out.Events, out.Next, err = tx.AuditEvents(ctx, companyID, f); err != nil {
			return err
		}
		if f.Action == "" && f.UserID == "" && f.Since.IsZero() && f.Until.IsZero() {
			head, err := tx.AuditHead(ctx, companyID)
			out.Total = int(head.Seq)
			if err != nil {
				return err
			}
		} else {
			if out.Total, err = tx.CountAuditEvents(ctx, companyID, f, AuditCountLimit+1); err != nil {
				return err
			}
			if out.Total > AuditCountLimit {
				out.Total, out.TotalCapped = AuditCountLimit, true
			}
		}
		out.Users, _, err = tx.Users(ctx, companyID, UserFilter{Limit: MaxLimit})
		return err
	})
	return out, err
}

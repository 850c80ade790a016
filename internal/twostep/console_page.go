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
func (s *Service) ConsoleUsers(ctx context.Context, c Caller, companyID string, f UserFilter, statsDays, recent int) (UsersPage, error) {
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

package store

import (
	"context"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
)

// CreateUser stores a new user.
func (t *Tx) CreateUser(ctx context.Context, u twostep.User) error {
	_, err := t.exec(ctx, `
		INSERT INTO users (id, company_id, external_id, name, email, phone, role, twofa_web,
			twofa_manager, sort_name, search, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		u.ID, u.CompanyID, nullIfEmpty(u.ExternalID), u.Name, u.Email, u.Phone, u.Role,
		u.TwoFA.Web, u.TwoFA.Manager, u.SortKey(), u.SearchText(), micros(u.CreatedAt), micros(u.UpdatedAt))
	return t.fail(err)
}

// selectUser reads users; callers add the WHERE clause.
const selectUser = `
	SELECT id, company_id, COALESCE(external_id, ''), name, email, phone, role, twofa_web,
		twofa_manager, created_at, updated_at, has_factors
	FROM users`

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface{ Scan(dest ...any) error }

// queryAll runs a query and reads every row with scan.
func queryAll[T any](ctx context.Context, t *Tx, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		out = append(out, v)
	}
	return out, t.fail(rows.Err())
}

func scanUser(r rowScanner) (twostep.User, error) {
	var (
		u                twostep.User
		created, updated int64
	)
	err := r.Scan(&u.ID, &u.CompanyID, &u.ExternalID, &u.Name, &u.Email, &u.Phone, &u.Role,
		&u.TwoFA.Web, &u.TwoFA.Manager, &created, &updated, &u.HasFactors)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, err
}

// User reads one user of a company.
func (t *Tx) User(ctx context.Context, companyID, id string) (twostep.User, error) {
	u, err := scanUser(t.queryRow(ctx, selectUser+` WHERE company_id = $1 AND id = $2`, companyID, id))
	return u, t.fail(err)
}

// UserForUpdate reads one user of a company and locks the row.
func (t *Tx) UserForUpdate(ctx context.Context, companyID, id string) (twostep.User, error) {
	u, err := scanUser(t.queryRow(ctx, selectUser+` WHERE company_id = $1 AND id = $2`+t.d.lockRow, companyID, id))
	return u, t.fail(err)
}

// UpdateUser stores a user's fields.
func (t *Tx) UpdateUser(ctx context.Context, u twostep.User) error {
	return t.execOne(ctx, `
		UPDATE users SET external_id = $3, name = $4, email = $5, phone = $6, role = $7,
			twofa_web = $8, twofa_manager = $9, sort_name = $10, search = $11, updated_at = $12
		WHERE company_id = $1 AND id = $2`,
		u.CompanyID, u.ID, nullIfEmpty(u.ExternalID), u.Name, u.Email, u.Phone, u.Role,
		u.TwoFA.Web, u.TwoFA.Manager, u.SortKey(), u.SearchText(), micros(u.UpdatedAt))
}

// DeleteUser deletes one user of a company.
func (t *Tx) DeleteUser(ctx context.Context, companyID, id string) error {
	return t.execOne(ctx, `DELETE FROM users WHERE company_id = $1 AND id = $2`, companyID, id)
}

// userCursor is where a page of users continues: after this name and id.
type userCursor struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

// Users returns a page of a company's users in name order.
func (t *Tx) Users(ctx context.Context, companyID string, f twostep.UserFilter) ([]twostep.User, string, error) {
	var after userCursor
	if f.Cursor != "" {
		if err := twostep.DecodeCursor(f.Cursor, &after); err != nil {
			return nil, "", err
		}
	}
	pattern := searchPattern(f.Query)
	rows, err := t.query(ctx, selectUser+`
		WHERE company_id = $1
			AND ($2 = '' OR search LIKE $2 ESCAPE '\')
			AND (sort_name > $3 OR (sort_name = $3 AND id > $4))
		ORDER BY sort_name, id
		LIMIT $5`,
		companyID, pattern, after.Name, after.ID, f.Limit+1)
	if err != nil {
		return nil, "", t.fail(err)
	}
	defer rows.Close()
	var users []twostep.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, "", t.fail(err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", t.fail(err)
	}
	next := ""
	if len(users) > f.Limit {
		users = users[:f.Limit]
		last := users[len(users)-1]
		next = twostep.EncodeCursor(userCursor{last.SortKey(), last.ID})
	}
	return users, next, nil
}

// searchPattern is the LIKE pattern of a search, "" for none.
func searchPattern(q string) string {
	if q == "" {
		return ""
	}
	return "%" + escapeLike(strings.ToLower(q)) + "%"
}

// CountUsers counts the users a search matches.
func (t *Tx) CountUsers(ctx context.Context, companyID, query string) (int, error) {
	var n int
	err := t.queryRow(ctx, `
		SELECT count(*) FROM users WHERE company_id = $1 AND ($2 = '' OR search LIKE $2 ESCAPE '\')`,
		companyID, searchPattern(query)).Scan(&n)
	return n, t.fail(err)
}

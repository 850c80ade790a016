package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestUserChallenges: a user's latest challenges, newest first, up to a
// limit, and none of another user's or company's.
func TestUserChallenges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error {
			errs := []error{tx.CreateCompany(ctx, company("co_a")), tx.CreateCompany(ctx, company("co_b")),
				tx.CreateUser(ctx, user("co_a", "usr_1", "Anna")), tx.CreateUser(ctx, user("co_a", "usr_2", "Ben")),
				tx.CreateUser(ctx, user("co_b", "usr_3", "Elsewhere"))}
			add := func(co, usr string, minute int) error {
				return tx.CreateChallenge(ctx, twostep.Challenge{ID: fmt.Sprintf("ch_%s_%d", usr, minute), CompanyID: co, UserID: usr,
					App: twostep.AppWeb, Status: twostep.StatusPending, Channel: twostep.ChannelSMS, IP: "198.51.100.1",
					CreatedAt: t0.Add(time.Duration(minute) * time.Minute)})
			}
			for _, m := range []int{3, 1, 2, 5} {
				errs = append(errs, add("co_a", "usr_1", m))
			}
			errs = append(errs, add("co_a", "usr_2", 4), add("co_b", "usr_3", 6))
			return errors.Join(errs...)
		})
		ids := func(userID string, limit int) []string {
			var got []twostep.Challenge
			err := db.View(ctx, func(tx twostep.Tx) error {
				var err error
				got, err = tx.UserChallenges(ctx, "co_a", userID, limit)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range got {
				out = append(out, c.ID)
			}
			return out
		}
		if got, want := ids("usr_1", 3), []string{"ch_usr_1_5", "ch_usr_1_3", "ch_usr_1_2"}; !slices.Equal(got, want) {
			t.Errorf("usr_1's latest 3: %q, want %q", got, want)
		}
		if got := ids("usr_3", 10); len(got) != 0 {
			t.Errorf("another company's user through co_a: %q", got)
		}
	})
}

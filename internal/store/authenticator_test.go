package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestPasskeyStorage: a passkey's credential is stored and read back, its
// id is unique, a sign-in's update lands only over the credential it read,
// and a ceremony is taken once, however many requests race for it, and
// not after it expired.
func TestPasskeyStorage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		key := twostep.Authenticator{ID: "auth_1", CompanyID: "co_a", UserID: "usr_1", Type: twostep.AuthenticatorWebAuthn,
			Name: "Passkey", ConfirmedAt: t0, CreatedAt: t0, CredentialID: "Y3JlZA", Credential: `{"signCount":1}`}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return errors.Join(tx.CreateCompany(ctx, company("co_a")), tx.CreateUser(ctx, user("co_a", "usr_1", "Anna")),
				tx.CreateAuthenticator(ctx, key))
		})
		err := db.Update(ctx, func(tx twostep.Tx) error {
			again := key
			again.ID = "auth_2"
			return tx.CreateAuthenticator(ctx, again)
		})
		if !errors.Is(err, twostep.ErrConflict) {
			t.Fatalf("a second row with the credential id: %v, want ErrConflict", err)
		}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			got, err := tx.Authenticator(ctx, "co_a", "usr_1", "auth_1")
			if err != nil || got.CredentialID != key.CredentialID || got.Credential != key.Credential {
				t.Errorf("read back: %+v %v", got, err)
			}
			if err := tx.UseCredential(ctx, "auth_1", key.Credential, `{"signCount":2}`, t0.Add(time.Minute)); err != nil {
				t.Errorf("use: %v", err)
			}
			// The same earlier credential again: another sign-in got there first.
			if err := tx.UseCredential(ctx, "auth_1", key.Credential, `{"signCount":2}`, t0.Add(time.Minute)); !errors.Is(err, twostep.ErrConflict) {
				t.Errorf("a stale update: %v, want ErrConflict", err)
			}
			f, err := tx.Factors(ctx, "co_a", "usr_1")
			if err != nil || f.WebAuthn != 1 {
				t.Errorf("factors %+v %v", f, err)
			}
			return tx.PutCeremony(ctx, "ch:1", `{"challenge":"abc"}`, t0.Add(5*time.Minute))
		})

		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			took int
		)
		for range 20 {
			wg.Go(func() {
				err := db.Update(ctx, func(tx twostep.Tx) error {
					data, err := tx.TakeCeremony(ctx, "ch:1", t0)
					if err == nil && data == `{"challenge":"abc"}` {
						mu.Lock()
						took++
						mu.Unlock()
					}
					if errors.Is(err, twostep.ErrNotFound) {
						return nil
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if took != 1 {
			t.Fatalf("a ceremony was taken %d times by 20 requests, want once", took)
		}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			if err := tx.PutCeremony(ctx, "ch:2", "x", t0.Add(time.Minute)); err != nil {
				return err
			}
			if _, err := tx.TakeCeremony(ctx, "ch:2", t0.Add(time.Minute)); !errors.Is(err, twostep.ErrNotFound) {
				t.Errorf("an expired ceremony: %v, want ErrNotFound", err)
			}
			return nil
		})
	})
}

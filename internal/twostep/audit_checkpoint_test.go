package twostep_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

var checkpointSeed = bytes.Repeat([]byte{7}, 32)

// TestAuditCheckpoint: what a hash chain alone cannot show — a log
// deleted whole, a company deleted with it, a tail cut off with the
// company's head rolled back — passes `audit verify` but not `audit
// verify --checkpoint`; a checkpoint edited or made with another secret
// is refused.
func TestAuditCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper []string // on company A, $1; $2, $3 and $4 are seq 3's hash, time and seq
		reason string
	}{
		{"Intact", nil, ""},
		{"WholeLogDeleted", []string{
			`DELETE FROM audit_events WHERE company_id = $1`,
			`UPDATE companies SET audit_seq = 0, audit_head = '', audit_time = 0 WHERE id = $1`}, "checkpoint counted 5"},
		{"CompanyDeleted", []string{
			`DELETE FROM audit_events WHERE company_id = $1`,
			`DELETE FROM users WHERE company_id = $1`,
			`DELETE FROM companies WHERE id = $1`}, "company and its audit log are gone"},
		{"TailCutHeadRolledBack", []string{
			`DELETE FROM audit_events WHERE company_id = $1 AND seq > 3`,
			`UPDATE companies SET audit_seq = $4, audit_head = $2, audit_time = $3 WHERE id = $1`}, "checkpoint counted 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, url string) {
				f := newFixture(t, url, func(o *twostep.Options) { o.CheckpointSeed = checkpointSeed })
				a, b := f.company(t, "A"), f.company(t, "B")
				for i := range 5 {
					f.clock.Advance(time.Second)
					if _, err := f.svc.UpdateSettings(f.ctx, f.platform, a.ID, patch(t, fmt.Sprintf(`{"defaults":{"web":%t}}`, i%2 == 0))); err != nil {
						t.Fatal(err)
					}
					f.user(t, b.ID, "B user")
				}
				line, cp, err := f.svc.AuditCheckpoint(f.ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(cp.Companies) != 2 || bytes.ContainsRune(line, '\n') {
					t.Fatalf("checkpoint %+v, line %q", cp, line)
				}
				// Events after the checkpoint are fine.
				f.user(t, b.ID, "Later user")
				db := storetest.RawDB(t, url)
				var hash string
				var at, seq int64
				if err := db.QueryRow(`SELECT hash, time, seq FROM audit_events WHERE company_id = $1 AND seq = 3`, a.ID).Scan(&hash, &at, &seq); err != nil {
					t.Fatal(err)
				}
				for _, q := range tc.tamper {
					args := []any{a.ID, hash, at, seq}
					if _, err := db.Exec(q, args[:strings.Count(q, "$")]...); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				// The chains alone still look intact.
				if brk, err := f.svc.VerifyAudit(f.ctx, nil, twostep.VerifyProgress{}); err != nil || brk != nil {
					t.Fatalf("without a checkpoint: %v %v", brk, err)
				}
				read, err := f.svc.ReadCheckpoint(line)
				if err != nil {
					t.Fatal(err)
				}
				brk, err := f.svc.VerifyAudit(f.ctx, read, twostep.VerifyProgress{})
				if err != nil {
					t.Fatal(err)
				}
				if tc.reason == "" {
					if brk != nil {
						t.Fatalf("intact log with its checkpoint reported broken: %v", brk)
					}
					return
				}
				if brk == nil || brk.CompanyID != a.ID || !strings.Contains(brk.Reason, tc.reason) {
					t.Fatalf("break %v; want company A: %q", brk, tc.reason)
				}
			})
		})
	}
}

func TestCheckpointSignature(t *testing.T) {
	f := newFixture(t, storetest.SQLiteURL(t), func(o *twostep.Options) { o.CheckpointSeed = checkpointSeed })
	co := f.company(t, "A")
	f.user(t, co.ID, "U")
	line, _, err := f.svc.AuditCheckpoint(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReadCheckpoint(line); err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(line, []byte(`"events":1`), []byte(`"events":0`), 1)
	if bytes.Equal(edited, line) {
		t.Fatalf("no event count to edit in %s", line)
	}
	other := twostep.NewService(f.db, twostep.Options{AuditKey: auditKey, CheckpointSeed: bytes.Repeat([]byte{8}, 32)})
	for name, l := range map[string][]byte{"Edited": edited, "Garbage": []byte("not a checkpoint")} {
		if _, err := f.svc.ReadCheckpoint(l); err == nil {
			t.Errorf("%s checkpoint was accepted", name)
		}
	}
	if _, err := other.ReadCheckpoint(line); err == nil {
		t.Error("a checkpoint of another secret was accepted")
	}
}

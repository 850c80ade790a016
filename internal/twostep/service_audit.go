package twostep

import (
	"context"
	"fmt"
	"time"
)

// AuditEvents returns a page of a company's audit log, newest first.
func (s *AuditLog) AuditEvents(ctx context.Context, c Caller, companyID string, f AuditFilter) ([]AuditEvent, string, error) {
	var err error
	if f.Limit, err = checkLimit(f.Limit); err != nil {
		return nil, "", err
	}
	return s.auditPage(ctx, c, companyID, f)
}

// auditPage reads one page of events, f.Limit long.
func (s *AuditLog) auditPage(ctx context.Context, c Caller, companyID string, f AuditFilter) ([]AuditEvent, string, error) {
	var (
		events []AuditEvent
		next   string
	)
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, "", Invalid("until", "until must be after since")
	}
	err := s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		var err error
		events, next, err = tx.AuditEvents(ctx, companyID, f)
		return err
	})
	return events, next, err
}

// exportPage is how many events an export reads per transaction: memory
// stays constant and no transaction stays open for the whole export.
const exportPage = 500

// ExportAudit calls emit for every event that matches f, newest first. It
// checks access before the first event, so an error from it can still be
// answered as an error; later errors end the export.
func (s *AuditLog) ExportAudit(ctx context.Context, c Caller, companyID string, f AuditFilter, emit func(AuditEvent) error) error {
	f.Limit, f.Cursor = exportPage, ""
	first := true
	for {
		events, next, err := s.auditPage(ctx, c, companyID, f)
		if err != nil {
			if first {
				return err
			}
			return fmt.Errorf("export: %w", err)
		}
		first = false
		for _, e := range events {
			if err := emit(e); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// CheckAuditAccess answers, before an export starts streaming, whether the
// caller may read the company's log and the filter is valid.
func (s *AuditLog) CheckAuditAccess(ctx context.Context, c Caller, companyID string, f AuditFilter) error {
	f.Limit = 1
	_, _, err := s.auditPage(ctx, c, companyID, f)
	return err
}

// chainPage is how many events VerifyAudit reads at a time.
const chainPage = 1000

// VerifyProgress hears how VerifyAudit goes; either func may be nil.
type VerifyProgress struct {
	Events  func(n int)                          // n more events are checked
	Company func(companyID string, events int64) // a company's chain is intact
}

// VerifyAudit walks every company's hash chain and returns the first break
// it finds, or nil when every chain is intact. With a checkpoint (nil for
// none), every company it covers must still be there, with at least the
// events it counted, the last of them the head it recorded.
func (s *AuditLog) VerifyAudit(ctx context.Context, cp *Checkpoint, progress VerifyProgress) (*ChainBreak, error) {
	covered := map[string]CheckpointHead{}
	if cp != nil {
		for _, h := range cp.Companies {
			covered[h.CompanyID] = h
		}
	}
	after := ""
	for {
		var ids []string
		err := s.view(ctx, func(tx Tx) error {
			var err error
			ids, err = tx.CompanyIDs(ctx, after, chainPage)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			want, ok := covered[id]
			delete(covered, id)
			n, brk, err := s.verifyChain(ctx, id, want, ok, progress.Events)
			if err != nil || brk != nil {
				return brk, err
			}
			if progress.Company != nil {
				progress.Company(id, n)
			}
		}
		if len(ids) < chainPage {
			break
		}
		after = ids[len(ids)-1]
	}
	if gone := cp.sorted(covered); len(gone) > 0 {
		h := gone[0]
		return &ChainBreak{CompanyID: h.CompanyID, Seq: h.Events, Reason: fmt.Sprintf(
			"the company and its audit log are gone: the checkpoint of %s counted %d events", cp.Time.Format(time.RFC3339), h.Events)}, nil
	}
	return nil, nil
}

// sorted returns the heads of m in the checkpoint's order.
func (cp *Checkpoint) sorted(m map[string]CheckpointHead) []CheckpointHead {
	var out []CheckpointHead
	if cp == nil {
		return out
	}
	for _, h := range cp.Companies {
		if _, ok := m[h.CompanyID]; ok {
			out = append(out, h)
		}
	}
	return out
}

// verifyChain checks one company's chain: seqs run 1, 2, 3… without gaps,
// each hash matches the event and the one before it, and the last event is
// the head the company records. With a checkpoint's head (covered), the
// chain must reach it unchanged.
func (s *AuditLog) verifyChain(ctx context.Context, companyID string, want CheckpointHead, covered bool, checked func(int)) (int64, *ChainBreak, error) {
	var (
		seq  int64
		prev string
		last AuditEvent
	)
	for {
		var page []AuditEvent
		err := s.view(ctx, func(tx Tx) error {
			var err error
			page, err = tx.AuditChain(ctx, companyID, seq, chainPage)
			return err
		})
		if err != nil {
			return seq, nil, err
		}
		for _, e := range page {
			switch {
			case e.Seq != seq+1:
				return seq, &ChainBreak{companyID, e.ID, e.Seq, fmt.Sprintf("expected seq %d: an event before it was deleted or reordered", seq+1)}, nil
			case ChainHash(s.auditKey, prev, e) != e.Hash:
				return seq, &ChainBreak{companyID, e.ID, e.Seq, "hash does not match: the event was edited, or an event before it was removed"}, nil
			case covered && e.Seq == want.Events && e.Hash != want.Head:
				return seq, &ChainBreak{companyID, e.ID, e.Seq, "the event differs from the one the checkpoint recorded: the log was rewritten from here back"}, nil
			}
			seq, prev, last = e.Seq, e.Hash, e
		}
		if checked != nil {
			checked(len(page))
		}
		if len(page) < chainPage {
			break
		}
	}
	var head AuditHead
	err := s.view(ctx, func(tx Tx) error {
		var err error
		head, err = tx.AuditHead(ctx, companyID)
		return err
	})
	if err != nil {
		return seq, nil, err
	}
	switch {
	case head.Seq != seq:
		return seq, &ChainBreak{companyID, last.ID, seq, fmt.Sprintf("the log ends at seq %d but the company's head is seq %d: newer events were deleted", seq, head.Seq)}, nil
	case head.Hash != prev:
		return seq, &ChainBreak{companyID, last.ID, seq, "the company's head hash does not match the newest event"}, nil
	case covered && seq < want.Events:
		return seq, &ChainBreak{companyID, last.ID, seq, fmt.Sprintf("the log ends at seq %d, but the checkpoint counted %d events: events it covers were deleted",
			seq, want.Events)}, nil
	}
	return seq, nil, nil
}

package twostep

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The audit log's hash chains show an edited, reordered or removed event,
// but not a log removed whole, a company removed with its log, or a tail
// cut off with the company's head rolled back to match: what is left is a
// consistent chain. A checkpoint closes that gap. It records every
// company's event count and head hash at one moment, signed with a key
// from the secret file, and the operator keeps it away from the database
// (appended to a file on another host, a WORM bucket, a SIEM). `audit
// verify --checkpoint` then also fails when anything it covers is gone.

// Checkpoint is the state of every company's audit chain at one moment.
type Checkpoint struct {
	Version   int              `json:"version"`
	Time      time.Time        `json:"time"`
	Companies []CheckpointHead `json:"companies"`
}

// CheckpointHead is one company's chain in a checkpoint: its count of
// events and the hash of the newest.
type CheckpointHead struct {
	CompanyID string `json:"id"`
	Events    int64  `json:"events"`
	Head      string `json:"head"`
}

// signedCheckpoint is a checkpoint's line: the checkpoint as the exact
// bytes that were signed, the key's id and the Ed25519 signature.
type signedCheckpoint struct {
	Checkpoint json.RawMessage `json:"checkpoint"`
	Kid        string          `json:"kid"`
	Sig        string          `json:"sig"`
}

// checkpointPage is how many companies a checkpoint reads at a time.
const checkpointPage = 1000

// AuditHeads reads every company's audit head, a page of companies at a
// time, with the database's time at the start; read, if not nil, is told
// how many companies each page held.
func (s *AuditLog) AuditHeads(ctx context.Context, read func(companies int)) (time.Time, []CheckpointHead, error) {
	var (
		at    time.Time
		heads = []CheckpointHead{}
		after string
	)
	for {
		var page []CheckpointHead
		err := s.view(ctx, func(tx Tx) error {
			var err error
			if at.IsZero() {
				if at, err = tx.Now(ctx); err != nil {
					return err
				}
			}
			page, err = tx.AuditHeads(ctx, after, checkpointPage)
			return err
		})
		if err != nil {
			return at, heads, err
		}
		heads = append(heads, page...)
		if read != nil {
			read(len(page))
		}
		if len(page) < checkpointPage {
			return at, heads, nil
		}
		after = page[len(page)-1].CompanyID
	}
}

// AuditCheckpoint reads every company's audit head (read as AuditHeads
// has it) and returns the signed checkpoint line (JSON, no newline).
func (s *AuditLog) AuditCheckpoint(ctx context.Context, read func(companies int)) ([]byte, Checkpoint, error) {
	cp := Checkpoint{Version: 1}
	var err error
	if cp.Time, cp.Companies, err = s.AuditHeads(ctx, read); err != nil {
		return nil, cp, err
	}
	if s.checkpointKey == nil {
		return nil, cp, errors.New("no checkpoint key: the service was opened without the secret file")
	}
	payload, err := json.Marshal(cp)
	if err != nil {
		return nil, cp, err
	}
	line, err := json.Marshal(signedCheckpoint{Checkpoint: payload, Kid: s.checkpointKid(),
		Sig: base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.checkpointKey, payload))})
	return line, cp, err
}

// ReadCheckpoint checks a checkpoint line's signature against this
// service's key and returns the checkpoint.
func (s *AuditLog) ReadCheckpoint(line []byte) (*Checkpoint, error) {
	var sc signedCheckpoint
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil || len(sc.Checkpoint) == 0 {
		return nil, errors.New("not a checkpoint line (twostep audit checkpoint prints them)")
	}
	sig, err := base64.RawURLEncoding.DecodeString(sc.Sig)
	if err != nil || s.checkpointKey == nil ||
		!ed25519.Verify(s.checkpointKey.Public().(ed25519.PublicKey), sc.Checkpoint, sig) {
		return nil, errors.New("the checkpoint's signature does not match this secret file: it was edited, or made by another deployment")
	}
	var cp Checkpoint
	if err := json.Unmarshal(sc.Checkpoint, &cp); err != nil || cp.Version != 1 {
		return nil, fmt.Errorf("checkpoint of an unknown version")
	}
	return &cp, nil
}

// checkpointKid names the checkpoint key: its public key's SHA-256.
func (s *AuditLog) checkpointKid() string {
	sum := sha256.Sum256(s.checkpointKey.Public().(ed25519.PublicKey))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

package config

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secrets are the keys Twostep derives from its secret file. Every instance
// of one deployment must read the same file.
type Secrets struct {
	AuditKey   []byte // HMAC key of the audit hash chain
	CodeKey    []byte // HMAC key of one-time codes at rest
	OutboxKey  []byte // AES-256 key of codes waiting in the outbox
	WebhookKey []byte // HMAC key of webhook bodies
	SignSeed   []byte // Ed25519 seed for signed results
	// CheckpointSeed is the Ed25519 seed that signs audit checkpoints.
	CheckpointSeed []byte
}

const secretHeader = "# Twostep secret: keep it private and give every instance the same file.\n"

// LoadSecrets reads the secret file, creating it with a new random secret
// and mode 0600 when it does not exist. It returns created=true then, so
// the caller can say so.
func LoadSecrets(path string) (s Secrets, created bool, err error) {
	master, err := readSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		master, err = createSecret(path)
		created = err == nil
		if errors.Is(err, fs.ErrExist) { // another instance made it first
			master, err = readSecret(path)
			created = false
		}
	}
	if err != nil {
		return Secrets{}, false, err
	}
	derive := func(purpose string) []byte {
		k, err := hkdf.Key(sha256.New, master, nil, "twostep "+purpose, 32)
		if err != nil {
			panic(err) // only for lengths hkdf cannot give; 32 it can
		}
		return k
	}
	return Secrets{
		AuditKey:   derive("audit chain v1"),
		CodeKey:    derive("code hmac v1"),
		OutboxKey:  derive("outbox aes-gcm v1"),
		WebhookKey: derive("webhook signature v1"),
		SignSeed:   derive("result signing v1"),
		// Checkpoints are kept away from the database for years: their key
		// is its own.
		CheckpointSeed: derive("audit checkpoint v1"),
	}, created, nil
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		master, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(master) < 32 {
			return nil, fmt.Errorf("secret file %s: expected a line of base64 holding at least 32 bytes", path)
		}
		return master, nil
	}
	return nil, fmt.Errorf("secret file %s is empty", path)
}

// createSecret writes a new secret to a temporary file and links it into
// place, so that another instance never reads a half-written file and two
// instances starting at once agree on one secret (the loser gets ErrExist).
func createSecret(path string) ([]byte, error) {
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".twostep-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(secretHeader + base64.StdEncoding.EncodeToString(master) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o600) // CreateTemp makes 0600 already; say so
	}
	if err == nil {
		err = os.Link(f.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	return master, nil
}

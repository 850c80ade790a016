package config

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load("serve", nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "sqlite:twostep.db" || c.Addr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" ||
		c.SecretFile != "twostep.key" || c.Email != "dev" || c.SMS != "dev" || c.CodeTTL != 5*time.Minute ||
		c.ResendCooldown != 30*time.Second {
		t.Fatalf("defaults %+v", c)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	e := env(map[string]string{
		"TWOSTEP_DATABASE_URL":           "sqlite:/var/lib/twostep/db.sqlite",
		"TWOSTEP_CODE_TTL":               "10m",
		"TWOSTEP_ADDR":                   "0.0.0.0:9000",
		"TWOSTEP_ALLOWED_RETURN_ORIGINS": "https://App.example.com/, http://localhost:3000",
	})
	c, err := Load("serve", []string{"--code-ttl", "2m", "--public-url", "https://2fa.example.com/"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.CodeTTL != 2*time.Minute {
		t.Errorf("a flag did not beat its variable: %v", c.CodeTTL)
	}
	if c.Addr != "0.0.0.0:9000" || c.PublicURL != "https://2fa.example.com" {
		t.Errorf("addr %q public %q", c.Addr, c.PublicURL)
	}
	if c.SecretFile != "/var/lib/twostep/twostep.key" {
		t.Errorf("secret file %q is not beside the SQLite file", c.SecretFile)
	}
	if len(c.AllowedReturnOrigins) != 2 || c.AllowedReturnOrigins[0] != "https://app.example.com" {
		t.Errorf("origins %q", c.AllowedReturnOrigins)
	}
}

func TestRefusals(t *testing.T) {
	for _, args := range [][]string{
		{"--code-ttl", "10m1s"},
		{"--code-ttl", "-1m"},
		{"--resend-cooldown", "2h"},
		{"--public-url", "ftp://x"},
		{"--sms", "carrier-pigeon://"},
		{"--log-level", "loud"},
		{"extra"},
	} {
		if _, err := Load("serve", args, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("%q was accepted", args)
		}
	}
}

func TestSecretsAreCreatedOnceAndShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "twostep.key")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		keys    [][]byte
		created int
	)
	for range 8 {
		wg.Go(func() {
			s, c, err := LoadSecrets(path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, s.AuditKey)
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d instances say they created the file", created)
	}
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("instances starting together derived different keys")
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi.Mode(), err)
	}
	s, _, _ := LoadSecrets(path)
	if bytes.Equal(s.AuditKey, s.CodeKey) || bytes.Equal(s.CodeKey, s.SignSeed) {
		t.Fatal("the derived keys are not distinct")
	}
	os.WriteFile(path, []byte("# empty\n"), 0o600)
	if _, _, err := LoadSecrets(path); err == nil {
		t.Fatal("an empty secret file was accepted")
	}
}

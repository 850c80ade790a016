package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
		c.SecretFile != "twostep.key" || c.Email != "" || c.SMS != "" || c.CodeTTL != 5*time.Minute ||
		c.ResendCooldown != 30*time.Second || len(c.TrustedProxies) != 0 || c.SMSGlobalDailyCap != 0 {
		t.Fatalf("defaults %+v", c)
	}
}

// TestServeNeedsProviders: without TWOSTEP_EMAIL and TWOSTEP_SMS there
// is nothing to serve with, and the refusal names both variables; dev
// senders serve only on loopback addresses.
func TestServeNeedsProviders(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string // in the error; none for no error
		dev  int
	}{
		{nil, []string{"TWOSTEP_EMAIL", "TWOSTEP_SMS"}, 0},
		{map[string]string{"TWOSTEP_EMAIL": "smtp://mail.example.com:587?from=a@example.com"}, []string{"TWOSTEP_SMS"}, 0},
		{map[string]string{"TWOSTEP_EMAIL": "smtp://mail.example.com:587?from=a@example.com", "TWOSTEP_SMS": "none"}, nil, 0},
		{map[string]string{"TWOSTEP_EMAIL": "dev", "TWOSTEP_SMS": "dev"}, nil, 2},
		{map[string]string{"TWOSTEP_EMAIL": "dev", "TWOSTEP_SMS": "none", "TWOSTEP_ADDR": "[::1]:8080"}, nil, 1},
		{map[string]string{"TWOSTEP_EMAIL": "dev", "TWOSTEP_SMS": "dev", "TWOSTEP_ADDR": "localhost:8080"}, nil, 2},
		{map[string]string{"TWOSTEP_EMAIL": "dev", "TWOSTEP_SMS": "none", "TWOSTEP_ADDR": "0.0.0.0:8080"}, []string{"TWOSTEP_EMAIL=dev", "loopback"}, 1},
		{map[string]string{"TWOSTEP_EMAIL": "smtp://m.example.com?from=a@example.com", "TWOSTEP_SMS": "dev", "TWOSTEP_ADDR": ":8080"}, []string{"TWOSTEP_SMS=dev", "loopback"}, 1},
		{map[string]string{"TWOSTEP_EMAIL": "dev", "TWOSTEP_SMS": "dev", "TWOSTEP_ADDR": "192.168.1.5:8080"}, []string{"TWOSTEP_EMAIL and TWOSTEP_SMS=dev"}, 2},
	} {
		c, err := Load("serve", nil, env(tc.env), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		dev, err := c.CheckSenders()
		if len(dev) != tc.dev {
			t.Errorf("%v: dev senders %v, want %d", tc.env, dev, tc.dev)
		}
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%v: refused: %v", tc.env, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: accepted", tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %q", tc.env, err, w)
			}
		}
	}
}

func TestTrustedProxiesAndGlobalCap(t *testing.T) {
	c, err := Load("serve", nil, env(map[string]string{
		"TWOSTEP_TRUSTED_PROXIES":      "10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,::ffff:172.16.0.0/108",
		"TWOSTEP_SMS_GLOBAL_DAILY_CAP": "5000",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.168.1.7/32 2001:db8::/32 172.16.0.0/12"; strings.Join(got, " ") != want {
		t.Errorf("trusted proxies %v, want %s", got, want)
	}
	if c.SMSGlobalDailyCap != 5000 {
		t.Errorf("global cap %d", c.SMSGlobalDailyCap)
	}
	for _, bad := range []map[string]string{
		{"TWOSTEP_TRUSTED_PROXIES": "10.0.0.0/33"},
		{"TWOSTEP_TRUSTED_PROXIES": "proxy.example.com"},
		{"TWOSTEP_SMS_GLOBAL_DAILY_CAP": "-1"},
		{"TWOSTEP_SMS_GLOBAL_DAILY_CAP": "lots"},
	} {
		if _, err := Load("serve", nil, env(bad), &bytes.Buffer{}); err == nil {
			t.Errorf("%v was accepted", bad)
		}
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

func TestWebAuthnRPID(t *testing.T) {
	for _, c := range []struct {
		public, rpID string
		ok           bool
	}{
		{"https://2fa.example.com", "", true},
		{"https://2fa.example.com", "example.com", true},
		{"https://2fa.example.com", "2fa.example.com", true},
		{"https://2fa.example.com", "other.com", false},
		{"https://2fa.example.com", "ample.com", false},
		{"http://127.0.0.1:8080", "127.0.0.1", false},
	} {
		_, err := Load("serve", nil, env(map[string]string{"TWOSTEP_PUBLIC_URL": c.public, "TWOSTEP_WEBAUTHN_RP_ID": c.rpID}), &bytes.Buffer{})
		if (err == nil) != c.ok {
			t.Errorf("%s with RP id %q: %v", c.public, c.rpID, err)
		}
	}
}

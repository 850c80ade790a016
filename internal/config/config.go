// Package config reads Twostep's settings from command-line flags and the
// TWOSTEP_* environment variables. A flag beats its variable, which beats
// the default. The Config is passed explicitly; nothing here is global.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// Config is everything an operator can set.
type Config struct {
	DatabaseURL string
	Addr        string
	PublicURL   string
	// WebAuthnRPID is the relying party of passkeys: the public URL's host
	// or a domain it is under; "" for the host.
	WebAuthnRPID         string
	SecretFile           string
	Email                string // "" (not set), dev, or smtp://…
	SMS                  string // "" (not set), dev, none, twilio://…, or webhook+https://…
	CodeTTL              time.Duration
	ResendCooldown       time.Duration
	AllowedReturnOrigins []string
	LogLevel             slog.Level
	DeliveryMaxBackoff   time.Duration
	DeliveryTimeout      time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; empty: the peer address is the client.
	TrustedProxies []netip.Prefix
	// SMSGlobalDailyCap bounds the SMS of every company together per UTC
	// day; 0 for no such cap.
	SMSGlobalDailyCap int
}

// MaxCodeTTL is the longest a code may live (NIST SP 800-63B).
const MaxCodeTTL = 10 * time.Minute

// setting is one configurable value: its flag, its variable and default.
type setting struct {
	flag, env, def, usage string
}

var settings = []setting{
	{"database-url", "TWOSTEP_DATABASE_URL", "sqlite:twostep.db", "sqlite:PATH or postgres://…"},
	{"addr", "TWOSTEP_ADDR", "127.0.0.1:8080", "listen address"},
	{"public-url", "TWOSTEP_PUBLIC_URL", "", "base of verify_url and links (default http:// + addr)"},
	{"secret-file", "TWOSTEP_SECRET_FILE", "", "file with the keys for code HMAC, result signing and the audit chain; created 0600 when missing (default twostep.key beside a SQLite file)"},
	{"email", "TWOSTEP_EMAIL", "", "how codes go by email: smtp://user:pass@host:port?from=addr&tls=starttls|tls|none, or dev (a page of codes, on a loopback address only); serve needs it"},
	{"sms", "TWOSTEP_SMS", "", "how codes go by SMS: twilio://SID:TOKEN@host[:port]?from=+1…, webhook+https://host/path, none (email only), or dev (loopback only); serve needs it"},
	{"code-ttl", "TWOSTEP_CODE_TTL", "5m", "code lifetime, at most 10m"},
	{"resend-cooldown", "TWOSTEP_RESEND_COOLDOWN", "30s", "wait between sends on one challenge"},
	{"allowed-return-origins", "TWOSTEP_ALLOWED_RETURN_ORIGINS", "", "comma-separated origins every company may use as return_url"},
	{"log-level", "TWOSTEP_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"delivery-max-backoff", "TWOSTEP_DELIVERY_MAX_BACKOFF", "30s", "the longest wait between tries of one message"},
	{"delivery-timeout", "TWOSTEP_DELIVERY_TIMEOUT", "15s", "how long a provider gets to accept one message"},
	{"trusted-proxies", "TWOSTEP_TRUSTED_PROXIES", "", "comma-separated CIDRs of the reverse proxies in front; only their X-Forwarded-For is believed"},
	{"webauthn-rp-id", "TWOSTEP_WEBAUTHN_RP_ID", "", "the relying party id of passkeys: the public URL's host or a domain it is under (default: the host)"},
	{"sms-global-daily-cap", "TWOSTEP_SMS_GLOBAL_DAILY_CAP", "", "SMS per UTC day over all companies together; past it codes go by email (default: no such cap)"},
}

// Flags registers every setting on fs, with its variable from getenv as
// the default, and returns the function that builds the Config once fs has
// been parsed. Commands add their own flags to fs beside these; a command
// whose own flag has a setting's name lists it in skip, and that setting
// is then read from its variable only.
func Flags(fs *flag.FlagSet, getenv func(string) string, skip ...string) func() (Config, error) {
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		if slices.Contains(skip, s.flag) {
			values[s.flag] = &def
			continue
		}
		values[s.flag] = fs.String(s.flag, def, s.usage+" ["+s.env+"]")
	}
	return func() (Config, error) { return build(values) }
}

// Load parses args over the environment with no flags of the command's own.
func Load(name string, args []string, getenv func(string) string, out io.Writer) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	load := Flags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return load()
}

// build checks the flag values and makes the Config.
func build(values map[string]*string) (Config, error) {
	get := func(flag string) string { return strings.TrimSpace(*values[flag]) }

	c := Config{
		DatabaseURL:  get("database-url"),
		Addr:         get("addr"),
		PublicURL:    strings.TrimRight(get("public-url"), "/"),
		WebAuthnRPID: strings.ToLower(strings.TrimSpace(get("webauthn-rp-id"))),
		SecretFile:   get("secret-file"),
		Email:        get("email"),
		SMS:          get("sms"),
	}
	var errs []error
	bad := func(flag, format string, args ...any) {
		s := settingFor(flag)
		errs = append(errs, fmt.Errorf("--%s (%s): %s", s.flag, s.env, fmt.Sprintf(format, args...)))
	}
	var err error
	if c.CodeTTL, err = time.ParseDuration(get("code-ttl")); err != nil || c.CodeTTL <= 0 || c.CodeTTL > MaxCodeTTL {
		bad("code-ttl", "must be a duration above 0 and at most %s, like 5m", MaxCodeTTL)
	}
	if c.ResendCooldown, err = time.ParseDuration(get("resend-cooldown")); err != nil || c.ResendCooldown < 0 || c.ResendCooldown > time.Hour {
		bad("resend-cooldown", "must be a duration from 0 to 1h, like 30s")
	}
	if c.DeliveryMaxBackoff, err = time.ParseDuration(get("delivery-max-backoff")); err != nil || c.DeliveryMaxBackoff < 10*time.Millisecond || c.DeliveryMaxBackoff > 10*time.Minute {
		bad("delivery-max-backoff", "must be a duration from 10ms to 10m, like 30s")
	}
	if c.DeliveryTimeout, err = time.ParseDuration(get("delivery-timeout")); err != nil || c.DeliveryTimeout < 100*time.Millisecond || c.DeliveryTimeout > 2*time.Minute {
		bad("delivery-timeout", "must be a duration from 100ms to 2m, like 15s")
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("log-level"))); err != nil {
		bad("log-level", "must be debug, info, warn or error")
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("database-url", "must be sqlite:PATH or postgres://…")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("public-url", "must be an absolute http(s) URL")
	}
	if c.WebAuthnRPID != "" {
		// Browsers take a relying party id that is the page's host or a
		// domain it is under.
		u, err := url.Parse(c.PublicURL)
		if host := ""; err == nil {
			host = strings.ToLower(u.Hostname())
			if _, err := netip.ParseAddr(c.WebAuthnRPID); err == nil {
				bad("webauthn-rp-id", "must be a domain name: browsers take no IP address for passkeys")
			} else if host != c.WebAuthnRPID && !strings.HasSuffix(host, "."+c.WebAuthnRPID) {
				bad("webauthn-rp-id", "must be the public URL's host or a domain it is under")
			}
		}
	}
	if c.SecretFile == "" {
		c.SecretFile = "twostep.key"
		if path, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok {
			c.SecretFile = filepath.Join(filepath.Dir(path), "twostep.key")
		}
	}
	if !isSender(c.Email, "smtp://", "smtps://") {
		bad("email", "must be smtp://… or dev")
	}
	if c.SMS != "none" && !isSender(c.SMS, "twilio://", "webhook+https://", "webhook+http://") {
		bad("sms", "must be twilio://…, webhook+https://…, none or dev")
	}
	for _, p := range strings.Split(get("trusted-proxies"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := parsePrefix(p)
		if err != nil {
			bad("trusted-proxies", "%q is not a CIDR like 10.0.0.0/8 or an IP address", p)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	if v := get("sms-global-daily-cap"); v != "" {
		if c.SMSGlobalDailyCap, err = strconv.Atoi(v); err != nil || c.SMSGlobalDailyCap < 0 {
			bad("sms-global-daily-cap", "must be a whole number of SMS per day, 0 or more")
		}
	}
	for _, o := range strings.Split(get("allowed-return-origins"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		n, err := twostep.NormalizeOrigin("origin", o)
		if err != nil {
			bad("allowed-return-origins", "%q is not an origin like https://app.example.com", o)
			continue
		}
		c.AllowedReturnOrigins = append(c.AllowedReturnOrigins, n)
	}
	return c, errors.Join(errs...)
}

// parsePrefix reads a CIDR, or one address as a prefix of its own.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// CheckSenders says what keeps the senders from serving: a provider not
// set (so that codes never land on a page by accident), or a dev sender
// on an address other machines can reach. It lists the dev senders that
// are on, for the warning at start.
func (c Config) CheckSenders() (dev []string, err error) {
	var errs []error
	if c.Email == "" {
		errs = append(errs, errors.New("set TWOSTEP_EMAIL (or --email) to smtp://user:pass@host:port?from=codes@example.com, or to dev for local development"))
	}
	if c.SMS == "" {
		errs = append(errs, errors.New("set TWOSTEP_SMS (or --sms) to twilio://SID:TOKEN@api.twilio.com?from=+1…, webhook+https://…, none to send codes by email only, or dev for local development"))
	}
	if c.Email == "dev" {
		dev = append(dev, "TWOSTEP_EMAIL")
	}
	if c.SMS == "dev" {
		dev = append(dev, "TWOSTEP_SMS")
	}
	if len(dev) > 0 && !IsLoopback(c.Addr) {
		errs = append(errs, fmt.Errorf("%s=dev shows every code at /dev/inbox, so it serves only on a loopback address such as 127.0.0.1:8080, not %q; use a real provider there",
			strings.Join(dev, " and "), c.Addr))
	}
	return dev, errors.Join(errs...)
}

// IsLoopback reports whether a listen address (host:port) is reachable
// only from this machine: a loopback IP or localhost. An empty host
// listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && twostep.LoopbackHost(host)
}

// isSender reports whether v is unset, "dev" or starts with one of the
// schemes.
func isSender(v string, schemes ...string) bool {
	if v == "" || v == "dev" {
		return true
	}
	for _, s := range schemes {
		if strings.HasPrefix(v, s) {
			return true
		}
	}
	return false
}

func settingFor(flag string) setting {
	for _, s := range settings {
		if s.flag == flag {
			return s
		}
	}
	return setting{flag: flag}
}

package config

import (
	"io"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/twostep"
)

// FuzzLoad feeds Load random values for the TWOSTEP_* variables. The input
// holds one value per line, in the order of the settings list; missing
// lines leave their variable unset. Load must never panic, and a Config it
// accepts must keep its promises.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"",
		"sqlite:/var/lib/twostep/db.sqlite\n0.0.0.0:9000\nhttps://2fa.example.com/\n\nsmtp://u:p@mail:587?from=a@b.c\ntwilio://AC1:tok@api.twilio.com?from=+15550100\n10m\n0s\nhttps://App.example.com/, http://localhost:3000\ndebug\n10ms\n2m",
		"postgres://u@h/db\n\n\n\n\nwebhook+https://sms.example.com/hook\n1ns\n1h",
		"\n\n\n\n\n\n10m0s1ns\n-1s\n,,, ,\nDEBUG+3\n9m60s\n100ms",
		"\n\n\n\n\n\n9223372036854775807ns\n1e9h\nhttps://[::1]:443\nwarn-4\n.5m\n0.1s",
		"\n\n\n\n\n\n-0\n+30s\nhttp://a:80,https://b:443,=1+1\nerror\n10m\n120s",
		"\n\n\n\n\n\n\x00\n30s\x00\nhttps://\u00e4.test\n\xff\xfe\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		env := make(map[string]string, len(settings))
		for i, s := range settings {
			if i < len(lines) {
				env[s.env] = lines[i]
			}
		}
		c, err := Load("serve", nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			return
		}
		if c.CodeTTL <= 0 || c.CodeTTL > MaxCodeTTL {
			t.Fatalf("accepted code TTL %v from %q", c.CodeTTL, env["TWOSTEP_CODE_TTL"])
		}
		if c.ResendCooldown < 0 || c.DeliveryMaxBackoff <= 0 || c.DeliveryTimeout <= 0 {
			t.Fatalf("accepted durations %+v", c)
		}
		if c.PublicURL == "" || c.SecretFile == "" {
			t.Fatalf("accepted %+v", c)
		}
		for _, o := range c.AllowedReturnOrigins {
			if n, err := twostep.NormalizeOrigin("origin", o); err != nil || n != o {
				t.Fatalf("accepted origin %q, which normalises to %q, %v", o, n, err)
			}
		}
	})
}

// Package delivery sends one-time codes: the outbox worker that claims
// queued messages and retries them with backoff, and the senders it hands
// them to — SMTP, Twilio's Messages API, a signed webhook, and a dev inbox
// for trying Twostep without any provider.
package delivery

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// Outgoing is a rendered message, ready for a sender.
type Outgoing struct {
	ID      int64 // the outbox message, for providers that take an idempotency key
	Channel twostep.Channel
	To      string
	Subject string // email only
	Text    string
	HTML    string // email only
}

// validity says how long a code lasts, in words: "5 minutes".
func validity(ttl time.Duration) string {
	switch m := int(ttl.Round(time.Minute) / time.Minute); {
	case ttl < time.Minute:
		return fmt.Sprintf("%d seconds", int(ttl/time.Second))
	case m == 1:
		return "1 minute"
	default:
		return fmt.Sprintf("%d minutes", m)
	}
}

var emailHTML = template.Must(template.New("email").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your {{.Company}} sign-in code</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#0b0c0c;line-height:1.5">
<p>Your sign-in code for {{.Company}} is:</p>
<p style="font-size:28px;font-weight:bold;letter-spacing:4px">{{.Code}}</p>
<p>It expires in {{.Validity}}. Use the newest code we sent.</p>
<p>If you did not try to sign in, you can ignore this email. Never share this code with anyone.</p>
</body></html>
`))

// Render writes a message's text. It names the company and says how long
// the code is valid, and holds nothing else secret. An SMS ends with the
// WebOTP line (@host #code) that lets a browser on the phone fill the code
// in on the hosted page; host is that page's host, or "" to leave it out.
func Render(m twostep.Message, host string) (Outgoing, error) {
	out := Outgoing{ID: m.ID, Channel: m.Channel, To: m.To}
	v := validity(m.TTL)
	if m.Channel == twostep.ChannelSMS {
		out.Text = fmt.Sprintf("%s is your %s sign-in code. It expires in %s. Never share it.", m.Code, m.CompanyName, v)
		if host != "" {
			out.Text += "\n\n@" + host + " #" + m.Code
		}
		return out, nil
	}
	out.Subject = "Your " + m.CompanyName + " sign-in code"
	out.Text = fmt.Sprintf("Your sign-in code for %s is %s.\n\nIt expires in %s. Use the newest code we sent.\n\n"+
		"If you did not try to sign in, you can ignore this email. Never share this code with anyone.\n",
		m.CompanyName, m.Code, v)
	var b bytes.Buffer
	err := emailHTML.Execute(&b, map[string]string{"Company": m.CompanyName, "Code": m.Code, "Validity": v})
	out.HTML = b.String()
	return out, err
}

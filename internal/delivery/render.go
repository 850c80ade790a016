// Package delivery sends one-time codes: the outbox worker that claims
// queued messages and retries them with backoff, and the senders it hands
// them to — SMTP, Twilio's Messages API, a signed webhook, and a dev inbox
// for trying Twostep without any provider.
package delivery

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
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

var linkHTML = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#0b0c0c;line-height:1.5">
<p>{{.Intro}}</p>
<p><a href="{{.Link}}" style="color:#1d70b8">{{.Action}}</a></p>
<p>The link works once, for {{.Validity}}. {{.Otherwise}}</p>
</body></html>
`))

// RenderLink writes a console email: an invited admin's set-up link or an
// admin's password reset link, at baseURL (the console's public URL).
func RenderLink(m twostep.Message, baseURL string) (Outgoing, error) {
	out := Outgoing{ID: m.ID, Channel: twostep.ChannelEmail, To: m.To}
	v := validity(m.TTL)
	if m.TTL >= 2*time.Hour {
		v = fmt.Sprintf("%d hours", int(m.TTL.Round(time.Hour)/time.Hour))
		if m.TTL >= 48*time.Hour {
			v = fmt.Sprintf("%d days", int(m.TTL.Round(24*time.Hour)/(24*time.Hour)))
		}
	}
	d := map[string]string{"Validity": v, "Link": strings.TrimRight(baseURL, "/") + "/admin/setup/" + m.Code}
	switch m.Kind {
	case twostep.KindSetupLink:
		d["Subject"] = "You are invited to the " + m.CompanyName + " admin console"
		d["Intro"] = "You have been made an admin of " + m.CompanyName + "'s two-factor authentication. Choose a password to sign in to the admin console:"
		d["Action"] = "Choose your password"
		d["Otherwise"] = "If you did not expect this, you can ignore this email."
	case twostep.KindResetLink:
		d["Subject"] = "Reset your " + m.CompanyName + " admin console password"
		d["Intro"] = "Someone asked to reset the password of your " + m.CompanyName + " admin console account. Choose a new password:"
		d["Action"] = "Choose a new password"
		d["Otherwise"] = "If you did not ask for this, ignore this email: your password stays as it is."
	default:
		return out, fmt.Errorf("a %q message has no link", m.Kind)
	}
	out.Subject = d["Subject"]
	out.Text = d["Intro"] + "\n\n" + d["Link"] + "\n\nThe link works once, for " + v + ". " + d["Otherwise"] + "\n"
	var b bytes.Buffer
	err := linkHTML.Execute(&b, d)
	out.HTML = b.String()
	return out, err
}

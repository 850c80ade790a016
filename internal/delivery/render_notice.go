package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

var noticeHTML = template.Must(template.New("notice").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#0b0c0c;line-height:1.5">
<p>{{.Greeting}}</p>
<p>{{.What}}</p>
<p><strong>What to do:</strong> {{.Do}}</p>
<p style="color:#505a5f">{{.Footer}}</p>
</body></html>
`))

// noticeText is a notification's words.
type noticeText struct {
	Subject, Greeting, What, Do, Footer string
}

// RenderNotice writes a notification. It names the company, the user,
// the app and the time, says what happened and what to do, and holds no
// secret: a notification is not a way in.
func RenderNotice(m twostep.Message) (Outgoing, error) {
	out := Outgoing{ID: m.ID, Channel: twostep.ChannelEmail, To: m.To}
	n := m.Notice
	if n == nil {
		return out, fmt.Errorf("message %d is not a notification", m.ID)
	}
	var d struct {
		LockedUntil       string `json:"locked_until"`
		FailedAttempts    int    `json:"failed_attempts"`
		Name              string `json:"name"`
		Type              string `json:"type"`
		RecoveryCodesLeft *int   `json:"recovery_codes_left"`
		Count             *int   `json:"count"`
	}
	if len(n.Details) > 0 {
		_ = json.Unmarshal(n.Details, &d) // what is missing is left out of the text
	}
	co, user := m.CompanyName, n.UserName
	app := "their account"
	if n.App != "" {
		app = "the " + n.App.Title()
	}
	at := n.At.UTC().Format("2 January 2006 at 15:04 UTC")
	help := "your administrator"
	if c := n.Contact; c.Name != "" || c.Email != "" || c.Phone != "" {
		help = strings.Join(nonEmpty(c.Name, c.Email, c.Phone), ", ")
	}
	ifNotYou := "If this was not you, someone may know your password: change it now and tell " + help + "."
	t := noticeText{Greeting: "Hello " + n.Name + ",",
		Footer: "This is a security notice from " + co + "'s sign-in service, sent " + at + ". It never holds a code or a link to sign in with."}
	switch {
	case n.Recipient == twostep.RecipientResponsible && n.Kind == twostep.NoticeFailedAttempts:
		t.Subject = user + " has entered 3 wrong sign-in codes in a row at " + co
		t.What = fmt.Sprintf("%s (%s) entered a wrong code %d times in a row signing in to %s of %s, most recently on %s. You are the person named to contact about sign-in problems.",
			user, orDash(n.UserEmail), max(d.FailedAttempts, 3), app, co, at)
		t.Do = "Contact " + user + " to help with signing in. If they did not try to sign in, their password may be known: ask them to change it. At 10 wrong codes in a row they are locked out for 15 minutes."
	case n.Recipient == twostep.RecipientResponsible && n.Kind == twostep.NoticeLocked:
		t.Subject = user + " is locked out of the " + n.App.Title() + " at " + co
		t.What = fmt.Sprintf("%s (%s) entered 10 wrong codes in a row and is locked out of %s of %s since %s%s.",
			user, orDash(n.UserEmail), app, co, at, until(d.LockedUntil))
		t.Do = "Contact " + user + ". When you are sure it is them, an admin can end the lock early in the admin console: Settings, Two-factor authentication, the user, Unlock. If it was not them, their password may be known."
	case n.Kind == twostep.NoticeLocked:
		t.Subject = "Your sign-in to " + co + " is locked"
		t.What = fmt.Sprintf("After 10 wrong codes in a row, signing in to %s of %s is locked since %s%s.", app, co, at, until(d.LockedUntil))
		t.Do = "Wait until the lock ends and use the newest code, or ask " + help + " to unlock it. " + ifNotYou
	case n.Kind == twostep.NoticeAuthenticatorAdded:
		t.Subject = "A sign-in method was added to your " + co + " account"
		t.What = fmt.Sprintf("%s was added to your %s account on %s.", authenticator(d.Type, d.Name), co, at)
		t.Do = "Nothing, if it was you. " + ifNotYou
	case n.Kind == twostep.NoticeAuthenticatorRemoved:
		t.Subject = "A sign-in method was removed from your " + co + " account"
		t.What = fmt.Sprintf("%s was removed from your %s account on %s.", authenticator(d.Type, d.Name), co, at)
		t.Do = "Nothing, if you or your administrator removed it. " + ifNotYou
	case n.Kind == twostep.NoticeRecoveryCodesGenerated:
		t.Subject = "New recovery codes for your " + co + " account"
		t.What = "New recovery codes were made for your " + co + " account on " + at + ". The old ones no longer work."
		t.Do = "Keep the new codes somewhere safe. " + ifNotYou
	case n.Kind == twostep.NoticeRecoveryCodeUsed:
		t.Subject = "A recovery code was used to sign in to " + co
		left := ""
		if d.RecoveryCodesLeft != nil {
			left = fmt.Sprintf(" You have %d left.", *d.RecoveryCodesLeft)
		}
		t.What = fmt.Sprintf("A recovery code was used to sign in to %s of %s on %s.%s", app, co, at, left)
		t.Do = "If you are running out of codes, make new ones. " + ifNotYou
	case n.Kind == twostep.NoticeDevicesRevoked:
		t.Subject = "Your remembered browsers at " + co + " were forgotten"
		t.What = "The browsers that skipped the second step when you signed in to " + co + " were forgotten on " + at + "."
		t.Do = "Nothing: your next sign-in in each browser asks for a second step again. " + ifNotYou
	default:
		return out, fmt.Errorf("no text for a %s notification to the %s", n.Kind, n.Recipient)
	}
	out.Subject = t.Subject
	out.Text = t.Greeting + "\n\n" + t.What + "\n\nWhat to do: " + t.Do + "\n\n" + t.Footer + "\n"
	var b bytes.Buffer
	err := noticeHTML.Execute(&b, t)
	out.HTML = b.String()
	return out, err
}

func until(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return ""
	}
	return ", until " + t.UTC().Format("15:04 UTC")
}

func authenticator(typ, name string) string {
	what := "An authenticator app"
	if typ == string(twostep.AuthenticatorWebAuthn) {
		what = "A passkey"
	}
	if name != "" {
		what += " (" + name + ")"
	}
	return what
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "no email address"
	}
	return s
}

package web

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/result"
)

// devInboxStyle is the dev inbox's only style; the page's CSP names its
// hash, so no other inline style or script can run.
const devInboxStyle = `body{font-family:system-ui,Arial,sans-serif;margin:2rem;color:#0b0c0c;max-width:60rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;border-bottom:1px solid #b1b4b6;padding:.5rem;vertical-align:top}
pre{white-space:pre-wrap;margin:0;font:inherit}.muted{color:#505a5f}`

var devInboxCSP = func() string {
	sum := sha256.Sum256([]byte(devInboxStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'"
}()

var devInboxPage = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>Dev inbox – Twostep</title><style>` + devInboxStyle + `</style></head>
<body><main>
<h1>Dev inbox</h1>
<p class="muted">Messages the <code>dev</code> sender would have delivered, newest first. This page refreshes every 5 seconds and exists only while a dev sender is configured. <a href="/dev/inbox?format=json">JSON</a></p>
{{if .}}<table><caption class="muted">{{len .}} messages</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Channel</th><th scope="col">To</th><th scope="col">Message</th></tr></thead>
<tbody>{{range .}}<tr><td><time datetime="{{.Time.Format "2006-01-02T15:04:05Z07:00"}}">{{.Time.Format "15:04:05"}}</time></td><td>{{.Channel}}</td><td>{{.To}}</td>
<td>{{if .Subject}}<strong>{{.Subject}}</strong><br>{{end}}<pre>{{.Text}}</pre></td></tr>{{end}}</tbody></table>
{{else}}<p>No messages yet. Start a sign-in and its code appears here.</p>{{end}}
</main></body></html>
`))

// devInbox shows the dev sender's messages, as HTML or, with
// ?format=json, as {"messages": […]}.
func (s *Server) devInbox(w http.ResponseWriter, r *http.Request) {
	msgs := s.inbox.Messages()
	if r.URL.Query().Get("format") == "json" {
		if msgs == nil {
			msgs = []delivery.DevMessage{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
		return
	}
	w.Header().Set("Content-Security-Policy", devInboxCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	devInboxPage.Execute(w, msgs)
}

// Demo is the demo's sign-in target: /dev/try starts a challenge for this
// user and sends the browser to its hosted page, which returns to
// /dev/return.
type Demo struct {
	CompanyID string
	UserID    string
}

// demoCookie is the demo platform's own session: the challenge it started
// for this browser and the nonce it gave, which the result must match.
const demoCookie = "twostep_demo"

// devTry starts a demo sign-in and opens its hosted page.
func (s *Server) devTry(w http.ResponseWriter, r *http.Request) {
	nonce := requestID()
	res, err := s.svc.CreateChallenge(r.Context(), twostep.Caller{Scope: s.demo.CompanyID, IP: s.clientIP(r), UserAgent: userAgent(r)},
		s.demo.CompanyID, s.demo.UserID, twostep.NewChallenge{App: string(twostep.AppWeb), IP: s.clientIP(r),
			UserAgent: userAgent(r), ReturnURL: s.public + "/dev/return", Nonce: nonce})
	if err != nil {
		s.render(w, r, http.StatusTooManyRequests, "message", page{Title: "Could not start", NoHeader: true, Data: message{
			Heading: "The demo sign-in could not start", Paragraphs: []string{twostep.AsError(err).Message},
			Link: "/dev/inbox", LinkText: "Go to the dev inbox"}})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: demoCookie, Value: res.ID + "." + nonce, Path: "/dev/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode})
	seeOther(w, r, "/verify/"+res.VerifyToken)
}

// devReturn plays the platform: it checks the signed result against the
// JWKS and against the sign-in it started, as a platform would, and
// shows what it says.
func (s *Server) devReturn(w http.ResponseWriter, r *http.Request) {
	challenge, nonce, _ := strings.Cut(cookie(r, demoCookie), ".")
	want := result.Expected{Issuer: s.public, ChallengeID: challenge, CompanyID: s.demo.CompanyID, UserID: s.demo.UserID,
		App: string(twostep.AppWeb), Nonce: nonce}
	claims, err := result.CheckResultToken(r.URL.Query().Get("twostep_result"), s.svc.JWKS(), want, time.Now())
	d := message{Heading: "Back at the platform", Link: "/dev/try", LinkText: "Sign in again"}
	if err != nil {
		d.Paragraphs = []string{"The signed result did not verify: " + err.Error() + "."}
	} else {
		d.Paragraphs = []string{
			"The signed result verified against " + s.public + "/.well-known/jwks.json, for the sign-in this browser started.",
			"Challenge " + claims.ChallengeID + ": user " + claims.UserID + " passed the second step for the " +
				twostep.App(claims.App).Title() + " by " + claims.Method + " at " + claims.ApprovedAt + ".",
		}
	}
	s.render(w, r, http.StatusOK, "message", page{Title: "Signed in", NoHeader: true, Data: d})
}

package web

import (
	"encoding/base64"
	"html/template"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/twostep/twostep/internal/twostep"
)

// appSetup is the data of the "add an authenticator app" steps, which the
// hosted enrolment page and the console's account page share: the QR
// code, the key as text, and the field for the confirming code.
type appSetup struct {
	Company string
	QR      template.URL // the otpauth URI as a PNG, drawn here
	Key     string       // in groups of four, for typing in
	ID      string
	Code    string // what was typed, after a mistake of form
	Error   string
	Action  string // where the confirming code goes
	Cancel  string
}

// newAppSetup draws a pending authenticator app's QR code.
func newAppSetup(a twostep.NewAuthenticator, company, action, cancel string) (appSetup, error) {
	png, err := qrcode.Encode(a.OTPAuthURI, qrcode.Medium, 256)
	if err != nil {
		return appSetup{}, err
	}
	return appSetup{Company: company, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Key: groupKey(a.Secret), ID: a.ID, Action: action, Cancel: cancel}, nil
}

// groupKey writes a key in groups of four, as people copy it.
func groupKey(key string) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// codesView is the data of the "save your recovery codes" step: the codes,
// shown this once, and the same as a text file to download.
type codesView struct {
	Codes    []string
	Download template.URL
	Finish   string // the form the step ends with, or "" for a link
	Next     string // the link it ends with otherwise
	Label    string
}

// newCodesView writes the codes' text file.
func newCodesView(codes []string, company, user string) codesView {
	file := "Recovery codes for " + company + " (" + user + ")\r\nEach code signs you in once.\r\n\r\n" +
		strings.Join(codes, "\r\n") + "\r\n"
	return codesView{Codes: codes, Download: template.URL("data:text/plain;charset=utf-8," + url.PathEscape(file))}
}

// confirmMessage words a refused confirming code.
func confirmMessage(err error) string {
	if isCode(err, twostep.CodeIncorrect) {
		return "That code is not correct. Check the time on your phone is set automatically, then enter the code the app shows now."
	}
	return twostep.AsError(err).Message
}

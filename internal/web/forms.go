package web

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
)

// maxFormBody is the largest form a page accepts. The console's and the
// hosted page's forms hold a few short fields; anything near this is not
// a person typing.
const maxFormBody = 64 << 10

// formContentType is the only body a page's POST takes: what a browser
// sends for a form without files.
const formContentType = "application/x-www-form-urlencoded"

// pageForm reads a page POST's form before the handler runs: at most
// maxFormBody bytes (413 beyond), urlencoded only (415 otherwise), so no
// request makes the server hold a large or multipart body in memory. A
// POST with no body at all, such as a bare sign-out, needs no type.
func (s *Server) pageForm(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || !strings.EqualFold(mt, formContentType) {
				s.formRefused(w, r, http.StatusUnsupportedMediaType, &twostep.Error{Code: codeUnsupportedMedia,
					Message: "forms must be sent as " + formContentType})
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.formRefused(w, r, http.StatusRequestEntityTooLarge, &twostep.Error{Code: twostep.CodeTooLarge,
					Message: "the form must be at most 64 KiB"})
				return
			}
			s.formRefused(w, r, http.StatusBadRequest, &twostep.Error{Code: twostep.CodeInvalidQuery, Message: "the form is not well-formed"})
			return
		}
		next(w, r)
	}
}

// codeUnsupportedMedia is the web layer's code for a body of the wrong type.
const codeUnsupportedMedia twostep.ErrorCode = "unsupported_media_type"

// formRefused answers a form the pages do not take: in JSON to the
// console's scripts, else as a page.
func (s *Server) formRefused(w http.ResponseWriter, r *http.Request, status int, e *twostep.Error) {
	w.Header().Set("Connection", "close") // the rest of the body is not read
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		s.writeError(w, r, e)
		return
	}
	s.render(w, r, status, "message", page{Title: "Request refused", NoHeader: true, Data: message{
		Heading:    "This request was refused",
		Paragraphs: []string{"The form could not be read. Go back to the page you were using and try again."}}})
}

// formProof is the code a form submits, with the method it is for ("" for
// the one the challenge expects).
func formProof(r *http.Request) twostep.Proof {
	return twostep.Proof{Code: r.PostFormValue("code"), Method: twostep.Method(r.PostFormValue("method"))}
}

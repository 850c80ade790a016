package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// smsStandIn is a local SMS provider that speaks Twilio's Messages API as
// Twilio documents it (POST /2010-04-01/Accounts/{SID}/Messages.json with
// the form fields To, From and Body, HTTP basic auth, 201 with the
// message's JSON), like internal/providertest's, but built for load: it
// keeps no message list and hands each code to the client waiting for it,
// on a channel per destination number, with the time it arrived.
type smsStandIn struct {
	sid, token string
	addr       string
	srv        *http.Server

	mu    sync.Mutex
	boxes map[string]chan arrival

	accepted atomic.Int64
	dropped  atomic.Int64 // codes nobody had room for
	refused  atomic.Int64 // requests that were not a valid message
}

// arrival is one code the stand-in accepted.
type arrival struct {
	code string
	at   time.Time
}

func startSMSStandIn(addr string) (*smsStandIn, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &smsStandIn{sid: "AC00000000000000000000000000000001", token: "load-token", addr: ln.Addr().String(),
		boxes: map[string]chan arrival{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	// Its connections' goroutines inherit the label, so that a profile can
	// leave the stand-in out with the clients: -tagignore=load.
	go pprof.Do(context.Background(), pprof.Labels("side", "load"), func(context.Context) { s.srv.Serve(ln) })
	return s, nil
}

func (s *smsStandIn) close() { s.srv.Close() }

// senderURL is the TWOSTEP_SMS value that points the server at the stand-in.
func (s *smsStandIn) senderURL() string {
	return fmt.Sprintf("twilio://%s:%s@%s?from=%%2B15005550006&scheme=http", s.sid, s.token, s.addr)
}

// box is the channel of codes to one number.
func (s *smsStandIn) box(to string) chan arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.boxes[to]
	if !ok {
		b = make(chan arrival, 8)
		s.boxes[to] = b
	}
	return b
}

var (
	messagesPath = regexp.MustCompile(`^/2010-04-01/Accounts/([A-Za-z0-9]+)/Messages\.json$`)
	sixDigits    = regexp.MustCompile(`\b(\d{6})\b`)
)

func (s *smsStandIn) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	w.Header().Set("Content-Type", "application/json")
	fail := func(status, code int, msg string) {
		s.refused.Add(1)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status})
	}
	m := messagesPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		fail(http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != s.sid || pass != s.token || m[1] != s.sid {
		fail(http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	code := sixDigits.FindStringSubmatch(body)
	switch {
	case to == "" || to[0] != '+':
		fail(http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
		return
	case from == "" && r.PostForm.Get("MessagingServiceSid") == "":
		fail(http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
		return
	case code == nil:
		fail(http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	select {
	case s.box(to) <- arrival{code: code[1], at: at}:
	default:
		s.dropped.Add(1)
	}
	n := s.accepted.Add(1)
	sid := fmt.Sprintf("SM%032d", n)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": sid, "account_sid": s.sid, "to": to, "from": from,
		"status": "queued", "num_segments": "1", "direction": "outbound-api"})
}

package providertest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receiver is a platform's event endpoint: a real HTTP server that checks
// each delivery's Standard Webhooks signature with its own code, written
// out from the specification (not Twostep's signer), and keeps what came.
// It can be taken down (it answers 503) and brought back.
type Receiver struct {
	URL string
	srv *httptest.Server

	mu         sync.Mutex
	secret     string
	down       bool
	got        []Delivery
	refused    int      // tries answered 503 while down
	refusedIDs []string // their webhook-ids
	badSigs    []string
	tolerant   time.Duration
}

// Delivery is one event as the receiver accepted it.
type Delivery struct {
	ID              string // webhook-id
	Timestamp       int64
	TimestampHeader string // webhook-timestamp, as sent
	Signature       string // webhook-signature, as sent
	Type            string `json:"type"`
	CompanyID       string `json:"company_id"`
	EventID         string `json:"id"`
	Data            map[string]any
	Body            string
}

// StartReceiver starts a receiver on a loopback port.
func StartReceiver(t testing.TB) *Receiver {
	r := &Receiver{tolerant: 5 * time.Minute}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/twostep/events"
	t.Cleanup(r.srv.Close)
	return r
}

// SetSecret gives the receiver the endpoint's signing secret.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

// Down makes the receiver answer 503 (true) or accept again (false).
func (r *Receiver) Down(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// Deliveries returns what was accepted, in the order it arrived.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Refused counts the tries answered 503.
func (r *Receiver) Refused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// RefusedIDs lists the webhook-ids of the tries answered 503.
func (r *Receiver) RefusedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.refusedIDs...)
}

// BadSignatures lists the deliveries whose signature did not check out.
func (r *Receiver) BadSignatures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.badSigs...)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		r.refused++
		r.refusedIDs = append(r.refusedIDs, id)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if why := verify(r.secret, id, ts, sigs, body, r.tolerant); why != "" {
		r.badSigs = append(r.badSigs, id+": "+why)
		http.Error(w, why, http.StatusUnauthorized)
		return
	}
	d := Delivery{ID: id, Body: string(body), TimestampHeader: ts, Signature: sigs}
	d.Timestamp, _ = strconv.ParseInt(ts, 10, 64)
	if err := json.Unmarshal(body, &d); err != nil {
		r.badSigs = append(r.badSigs, id+": body is not JSON")
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.got = append(r.got, d)
	w.WriteHeader(http.StatusNoContent)
}

// verify is the Standard Webhooks check, as the specification and its
// reference libraries do it: the key is the base64 after "whsec_"; the
// signed content is "<id>.<timestamp>.<body>"; the header holds
// space-separated "v1,<base64 HMAC-SHA256>" signatures, any of which may
// match; the timestamp must be within the tolerance.
func verify(secret, id, ts, header string, body []byte, tolerance time.Duration) string {
	if id == "" || ts == "" || header == "" {
		return "missing webhook headers"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "timestamp is not a number"
	}
	if d := time.Since(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return "timestamp outside the tolerance"
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return "the receiver has no good secret"
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Split(header, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return ""
		}
	}
	return "no signature matches"
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/delivery"
)

// receivers are the event endpoints of a run: local HTTP servers that
// check each delivery's signature, as a platform would, and answer 204.
// They share the machine with the server, as the load clients do.
type receivers struct {
	servers []*http.Server
	mu      sync.Mutex
	arrived []time.Time
}

// attachEndpoints starts n receivers and attaches each to the server as an
// event endpoint for every event.
func attachEndpoints(ctx context.Context, c *apiClient, n int) (*receivers, error) {
	r := &receivers{}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			r.close()
			return nil, err
		}
		var out struct {
			Secret string `json:"secret"`
		}
		var secret string
		var secretMu sync.Mutex
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			secretMu.Lock()
			s := secret
			secretMu.Unlock()
			if err := delivery.VerifyEvent(s, req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"),
				req.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			r.mu.Lock()
			r.arrived = append(r.arrived, time.Now())
			r.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		})}
		go srv.Serve(ln)
		r.servers = append(r.servers, srv)
		if err := c.must(ctx, http.StatusCreated, "POST", "/v1/event-endpoints",
			map[string]any{"url": "http://" + ln.Addr().String() + "/events"}, &out); err != nil {
			r.close()
			return nil, fmt.Errorf("creating an event endpoint: %w", err)
		}
		secretMu.Lock()
		secret = out.Secret
		secretMu.Unlock()
	}
	return r, nil
}

// count is the events that arrived in [from, to).
func (r *receivers) count(from, to time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.arrived {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

func (r *receivers) close() {
	for _, s := range r.servers {
		s.Close()
	}
}

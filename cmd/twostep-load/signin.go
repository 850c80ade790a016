package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sendsPerUserHour is the server's limit of codes per user (and per
// destination) in any hour; a run never asks for more, so that no sign-in
// is refused with 429.
const sendsPerUserHour = 10

// apiClient calls the JSON API with one shared connection pool.
type apiClient struct {
	base, key string
	http      *http.Client
}

func newAPIClient(base, key string, conns int) *apiClient {
	return &apiClient{base: base, key: key, http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true,
	}}}
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil). It returns the status; err is a transport or decoding failure.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %d %q: %w", method, path, res.StatusCode, clip(string(b), 200), err)
		}
	}
	return res.StatusCode, nil
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *apiClient) must(ctx context.Context, want int, method, path string, body any, out any) error {
	var raw json.RawMessage
	status, err := c.call(ctx, method, path, body, &raw)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", method, path, status, want, clip(string(raw), 300))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// loadUser is a user the clients sign in.
type loadUser struct {
	company, id, phone string
}

// setUp creates the companies (SMS first, with a cap no run reaches) and
// the users (with a mobile number each and 2FA on in the Web application)
// through the API, users concurrently.
func setUp(ctx context.Context, c *apiClient, companies, users int) ([]loadUser, error) {
	var cos []string
	for i := range companies {
		var co struct{ ID string }
		if err := c.must(ctx, 201, "POST", "/v1/companies", map[string]any{"name": fmt.Sprintf("Load %02d", i+1)}, &co); err != nil {
			return nil, err
		}
		if err := c.must(ctx, 200, "PATCH", "/v1/companies/"+co.ID+"/settings",
			map[string]any{"delivery_method": "sms_then_email", "sms_daily_cap": 1_000_000}, nil); err != nil {
			return nil, err
		}
		cos = append(cos, co.ID)
	}
	out := make([]loadUser, users)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
	)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= users || ctx.Err() != nil {
					return
				}
				co := cos[i%len(cos)]
				// Latvian mobile numbers: +371 2 and seven digits.
				phone := fmt.Sprintf("+3712%07d", i)
				var u struct{ ID string }
				err := c.must(ctx, 201, "POST", "/v1/companies/"+co+"/users", map[string]any{
					"name": fmt.Sprintf("Load User %d", i), "email": fmt.Sprintf("user%d@load.test", i),
					"phone": phone, "twofa": map[string]bool{"web": true}}, &u)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				out[i] = loadUser{company: co, id: u.ID, phone: phone}
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

// result is one line of the report.
type result struct {
	engine    string
	clients   int
	endpoints int // event endpoints attached
	// eventsDelivered: events the endpoints got in the measured time.
	eventsDelivered int
	duration        time.Duration
	command         string

	signIns              int
	create, deliv, verif latencies
	errors               map[string]int
	warmupErrors         int
	budgetOut            bool
	rssStart             float64 // right after the server is ready
	rssIdle, rssPeak     float64 // after the set-up, before the load; the most during it
	rssOwn               bool    // the RSS is this process's (in-process)
	serverErrors         int
	serverErrorSample    []string
	smsDropped           int64

	loadAvg       [2]string // the machine's load average before and after: other work skews the numbers
	storage       storageResult
	storageNormal *storageResult // SQLite with synchronous=NORMAL, for reference
}

func (r result) rate() float64        { return float64(r.signIns) / r.duration.Seconds() }
func (r result) storageRate() float64 { return float64(r.storage.signIns) / r.duration.Seconds() }

// latencies is a sample of durations.
type latencies []time.Duration

// pct returns the p-th percentile in milliseconds.
func (l latencies) pct(p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}

// signIn runs the full second step with n clients against a fresh
// server and database and fills in r.
func (w *workspace) signIn(ctx context.Context, dbArg string, n int, r *result) error {
	name := fmt.Sprintf("signin-%s-%d-e%d", r.engine, n, r.endpoints) // each run a fresh database
	dbURL := ""
	if w.o.server == "" {
		var err error
		if dbURL, err = w.freshDB(ctx, dbArg, name); err != nil {
			return err
		}
	}
	srv, err := w.startServer(ctx, dbURL, name)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.stop(); err != nil {
			fmt.Fprintln(w.o.log, "stopping the server:", err)
		}
	}()
	c := newAPIClient(srv.url, srv.key, max(n, 16))
	r.rssStart = rssMiB(srv.pid)
	start := time.Now()
	users, err := setUp(ctx, c, w.o.companies, w.o.users)
	if err != nil {
		return fmt.Errorf("set-up: %w", err)
	}
	fmt.Fprintf(w.o.log, "%s: %d companies and %d users in %.1fs; loading with %d clients for %s + %s warm-up\n",
		name, w.o.companies, len(users), time.Since(start).Seconds(), n, w.o.duration, w.o.warmup)
	receivers, err := attachEndpoints(ctx, c, r.endpoints)
	if err != nil {
		return fmt.Errorf("event endpoints: %w", err)
	}
	defer receivers.close()
	// The load gets a connection pool of its own, dialled from the
	// labelled client goroutines, so that the transport's goroutines carry
	// the label too.
	c.http.CloseIdleConnections()
	c = newAPIClient(srv.url, srv.key, max(n, 16))
	time.Sleep(time.Second) // a quiet second before the idle reading
	r.rssIdle, r.rssOwn = rssMiB(srv.pid), w.o.inprocess
	r.loadAvg[0] = loadAvg()
	defer func() { r.loadAvg[1] = loadAvg() }()

	var (
		budget   = int64(len(users) * sendsPerUserHour)
		next     atomic.Int64
		t0       = time.Now()
		warmEnd  = t0.Add(w.o.warmup)
		end      = warmEnd.Add(w.o.duration)
		lctx, cf = context.WithDeadline(ctx, end)
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	defer cf()
	r.errors = map[string]int{}
	dropped0 := w.sms.dropped.Load()
	sampler := sampleRSS(srv.pid, 100*time.Millisecond)
	var stopProfile func()
	if w.o.cpuProfile != "" {
		// Start at the end of the warm-up, so the profile is the measured time.
		profileStarted := make(chan struct{})
		go func() {
			defer close(profileStarted)
			select {
			case <-time.After(time.Until(warmEnd)):
			case <-lctx.Done():
				return
			}
			f, err := os.Create(w.profilePath(w.o.cpuProfile, r.engine, n))
			if err == nil && pprof.StartCPUProfile(f) == nil {
				stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			}
		}()
		defer func() {
			<-profileStarted
			if stopProfile != nil {
				stopProfile()
			}
		}()
	}
	for range n {
		// The label lets a profile of -inprocess leave the clients out:
		// go tool pprof -tagignore=load.
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", "load"), func(ctx context.Context) {
				var (
					create, deliv, verif latencies
					ok                   int
					errs                 = map[string]int{}
					warmErrs             int
				)
				defer func() {
					mu.Lock()
					defer mu.Unlock()
					r.create, r.deliv, r.verif = append(r.create, create...), append(r.deliv, deliv...), append(r.verif, verif...)
					r.signIns += ok
					for k, v := range errs {
						r.errors[k] += v
					}
					r.warmupErrors += warmErrs
				}()
				// Requests in flight at the end finish: cutting them off would
				// make the server log errors that are the load program's doing.
				for time.Now().Before(end) && ctx.Err() == nil {
					i := next.Add(1) - 1
					if i >= budget {
						mu.Lock()
						r.budgetOut = true
						mu.Unlock()
						return
					}
					u := users[i%int64(len(users))]
					s := w.signInOnce(ctx, c, u)
					if ctx.Err() != nil {
						return
					}
					measured := !s.start.Before(warmEnd) && !s.done.After(end)
					switch {
					case s.err != "" && s.start.Before(warmEnd):
						warmErrs++
					case s.err != "":
						errs[s.err]++
					case measured:
						ok++
						create, deliv, verif = append(create, s.create), append(deliv, s.deliv), append(verif, s.verify)
					}
				}
			})
		})
	}
	wg.Wait()
	r.eventsDelivered = receivers.count(warmEnd, end)
	r.rssPeak = sampler.peak()
	r.smsDropped = w.sms.dropped.Load() - dropped0
	if w.o.memProfile != "" {
		if f, err := os.Create(w.profilePath(w.o.memProfile, r.engine, n)); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	// Let the outbox settle before stopping, so a late error is logged.
	time.Sleep(500 * time.Millisecond)
	if srv.logf != "" && !w.o.inprocess {
		srv.stop()
	}
	r.serverErrors, r.serverErrorSample = srv.errorLines()
	return nil
}

// profilePath names a profile file per engine and client count when a run
// makes several.
func (w *workspace) profilePath(path, engine string, n int) string {
	if len(w.o.dbs) == 1 && len(w.o.clients) == 1 {
		return path
	}
	ext := ""
	if i := strings.LastIndex(path, "."); i > 0 {
		path, ext = path[:i], path[i:]
	}
	return fmt.Sprintf("%s-%s-%d%s", path, engine, n, ext)
}

// attempt is one sign-in's timings, or the kind of its failure.
type attempt struct {
	start, done           time.Time
	create, deliv, verify time.Duration
	err                   string
}

// signInOnce creates a challenge, waits for its code at the stand-in and
// verifies it. Delivery is the time from the create answer to the code's
// arrival at the stand-in (0 when the code came first).
func (w *workspace) signInOnce(ctx context.Context, c *apiClient, u loadUser) attempt {
	box := w.sms.box(u.phone)
	for len(box) > 0 { // a late code of an earlier, failed sign-in
		<-box
	}
	a := attempt{start: time.Now()}
	var ch struct {
		ID       string `json:"id"`
		Required bool   `json:"required"`
		Channel  string `json:"channel"`
		apiError
	}
	status, err := c.call(ctx, "POST", "/v1/companies/"+u.company+"/users/"+u.id+"/challenges", map[string]string{"app": "web"}, &ch)
	created := time.Now()
	a.create = created.Sub(a.start)
	switch {
	case err != nil:
		a.err = "create: " + errKind(err)
		return a
	case status != http.StatusCreated:
		a.err = fmt.Sprintf("create: %d %s", status, ch.Error.Code)
		return a
	case !ch.Required || ch.Channel != "sms":
		a.err = fmt.Sprintf("create: required=%v channel=%q", ch.Required, ch.Channel)
		return a
	}
	var code arrival
	select {
	case code = <-box:
	case <-time.After(w.o.timeout):
		a.err = "delivery: no code within " + w.o.timeout.String()
		return a
	case <-ctx.Done():
		a.err = "cancelled"
		return a
	}
	a.deliv = max(code.at.Sub(created), 0)
	vStart := time.Now()
	var v struct {
		Result string `json:"result"`
		Status string `json:"status"`
		apiError
	}
	status, err = c.call(ctx, "POST", "/v1/challenges/"+ch.ID+"/verify", map[string]string{"code": code.code}, &v)
	a.done = time.Now()
	a.verify = a.done.Sub(vStart)
	switch {
	case err != nil:
		a.err = "verify: " + errKind(err)
	case status != http.StatusOK:
		a.err = fmt.Sprintf("verify: %d %s", status, v.Error.Code)
	case v.Result != "approved" || v.Status != "approved":
		a.err = fmt.Sprintf("verify: result %q status %q", v.Result, v.Status)
	}
	return a
}

// errKind shortens a transport error to its kind.
func errKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "EOF", "timeout", "deadline exceeded", "context canceled"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return clip(s, 80)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

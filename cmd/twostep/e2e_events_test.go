package main

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// feedEvent is one event of GET /v1/events.
type feedEvent struct {
	ID, Type, CompanyID string
}

// readFeed reads the whole feed, a page at a time.
func readFeed(t *testing.T, a apiClient) []feedEvent {
	t.Helper()
	var out []feedEvent
	after := ""
	for range 1000 {
		page := a.must(200, "GET", "/v1/events?limit=200&after="+after, nil)
		evs := page["events"].([]any)
		for _, e := range evs {
			m := e.(map[string]any)
			out = append(out, feedEvent{m["id"].(string), m["type"].(string), m["company_id"].(string)})
		}
		if len(evs) == 0 {
			return out
		}
		after = page["next_cursor"].(string)
	}
	t.Fatal("the feed does not end")
	return nil
}

// settledFeed reads the feed once it holds every audit event of the
// companies: the feed is sequenced shortly after each commit.
func settledFeed(t *testing.T, a apiClient, companies ...string) []feedEvent {
	t.Helper()
	var feed []feedEvent
	logs := map[string]int{}
	for _, co := range companies {
		logs[co] = len(auditOrder(t, a, co))
	}
	providertest.WaitFor(t, 20*time.Second, "the feed to hold every audit event", func() bool {
		feed = readFeed(t, a)
		n := map[string]int{}
		for _, e := range feed {
			if e.Type != "challenge.approved" && e.Type != "challenge.delivery_failed" {
				n[e.CompanyID]++
			}
		}
		for co, want := range logs {
			if n[co] != want {
				return false
			}
		}
		return true
	})
	return feed
}

// firstArrivals is each event's id in the order it first arrived, per
// company, and how many times each arrived.
func firstArrivals(ds []providertest.Delivery) (map[string][]string, map[string]int) {
	order, seen := map[string][]string{}, map[string]int{}
	for _, d := range ds {
		if seen[d.ID] == 0 {
			order[d.CompanyID] = append(order[d.CompanyID], d.ID)
		}
		seen[d.ID]++
	}
	return order, seen
}

// perCompany is the feed's ids per company, in feed order.
func perCompany(feed []feedEvent) map[string][]string {
	out := map[string][]string{}
	for _, e := range feed {
		out[e.CompanyID] = append(out[e.CompanyID], e.ID)
	}
	return out
}

// auditOrder is a company's audit log, oldest first, as ids.
func auditOrder(t *testing.T, a apiClient, co string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for {
		page := a.must(200, "GET", "/v1/companies/"+co+"/audit-events?limit=200&cursor="+cursor, nil)
		for _, e := range page["events"].([]any) {
			ids = append(ids, e.(map[string]any)["id"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Reverse(ids)
	return ids
}

// toggles has 16 writers at once switch 2FA on and off for the users of
// the given companies, through the given servers in turn, rounds times
// each; every switch is an audit event and so an event.
func toggles(t *testing.T, clients []apiClient, users map[string][]string, rounds int) {
	t.Helper()
	var cos []string
	for co := range users {
		cos = append(cos, co)
	}
	slices.Sort(cos)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			co := cos[w%len(cos)]
			u := users[co][w/len(cos)%len(users[co])]
			a := clients[w%len(clients)]
			for i := range rounds {
				if st, body := a.callSafe("PUT", "/v1/companies/"+co+"/users/"+u+"/twofa/web", map[string]any{"enabled": i%2 == 0}); st != 200 {
					t.Errorf("switch: %d %v", st, body)
					return
				}
			}
		})
	}
	wg.Wait()
}

// checkInOrder checks that the receiver got every event of the feed, each
// company's in the feed's order, and that the feed's order of each
// company is its audit log's.
func checkInOrder(t *testing.T, a apiClient, rcv *providertest.Receiver, feed []feedEvent, once bool) {
	t.Helper()
	got, seen := firstArrivals(rcv.Deliveries())
	want := perCompany(feed)
	for co, ids := range want {
		if !slices.Equal(got[co], ids) {
			t.Errorf("company %s: %d events arrived in the order %v;\nthe feed has %d: %v", co, len(got[co]), got[co], len(ids), ids)
		}
		var audited []string
		for _, e := range feed {
			if e.CompanyID == co && e.Type != "challenge.approved" && e.Type != "challenge.delivery_failed" {
				audited = append(audited, e.ID)
			}
		}
		if log := auditOrder(t, a, co); !slices.Equal(audited, log) {
			t.Errorf("company %s: the feed's order %v is not the audit log's %v", co, audited, log)
		}
	}
	for id, n := range seen {
		if once && n != 1 {
			t.Errorf("event %s arrived %d times, want once", id, n)
		}
	}
	if bad := rcv.BadSignatures(); len(bad) > 0 {
		t.Errorf("deliveries whose signature does not check out: %v", bad)
	}
}

// waitDelivered waits until the receiver has every event of the feed.
func waitDelivered(t *testing.T, rcv *providertest.Receiver, feed []feedEvent, within time.Duration) {
	t.Helper()
	providertest.WaitFor(t, within, fmt.Sprintf("%d events at the endpoint", len(feed)), func() bool {
		_, seen := firstArrivals(rcv.Deliveries())
		for _, e := range feed {
			if seen[e.ID] == 0 {
				return false
			}
		}
		return true
	})
}

// TestEventsReachEndpointsInOrder: two endpoints, one for everything and
// one for a company's 2FA switches; 16 writers change two companies while
// the first endpoint is down, then it comes back. Each endpoint gets what
// it asked for, nothing lost, each company's events in the order of its
// audit log, each signed (checked by the receiver's own code), and the
// delivery log shows the retries.
func TestEventsReachEndpointsInOrder(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.extra = []string{"TWOSTEP_DELIVERY_MAX_BACKOFF=300ms", "TWOSTEP_DELIVERY_TIMEOUT=1s"}
		in.mustRun("migrate")
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: in.apiKey()}
		rcv, only := providertest.StartReceiver(t), providertest.StartReceiver(t)
		rcv.Down(true)
		all := a.must(201, "POST", "/v1/event-endpoints", map[string]any{"url": rcv.URL})
		rcv.SetSecret(all["secret"].(string))

		co1, users1 := company(t, a, map[string]any{}, 4)
		co2, users2 := company(t, a, map[string]any{}, 4)
		some := a.must(201, "POST", "/v1/event-endpoints", map[string]any{"url": only.URL, "company_id": co1, "events": []string{"user.2fa_enabled"}})
		only.SetSecret(some["secret"].(string))
		for _, e := range a.must(200, "GET", "/v1/event-endpoints", nil)["endpoints"].([]any) {
			if _, ok := e.(map[string]any)["secret"]; ok {
				t.Fatalf("the list shows a secret: %v", e)
			}
		}
		toggles(t, []apiClient{a}, map[string][]string{co1: users1, co2: users2}, 8)
		providertest.WaitFor(t, 20*time.Second, "tries while the endpoint is down", func() bool { return rcv.Refused() >= 5 })
		feed := settledFeed(t, a, co1, co2)

		// The dead endpoint holds up only itself: the other gets all it
		// asked for meanwhile.
		var want []string
		for _, e := range feed {
			if e.CompanyID == co1 && e.Type == "user.2fa_enabled" {
				want = append(want, e.ID)
			}
		}
		providertest.WaitFor(t, 30*time.Second, "the filtered endpoint's events, while the other is down", func() bool {
			got, _ := firstArrivals(only.Deliveries())
			return len(got[co1]) == len(want)
		})
		if got, _ := firstArrivals(only.Deliveries()); !slices.Equal(got[co1], want) || len(got) != 1 {
			t.Fatalf("the filtered endpoint got %v, want %v", got, want)
		}
		if n := len(rcv.Deliveries()); n != 0 {
			t.Fatalf("the endpoint that is down accepted %d", n)
		}

		rcv.Down(false)
		waitDelivered(t, rcv, feed, 60*time.Second)
		checkInOrder(t, a, rcv, feed, false)

		log := a.must(200, "GET", "/v1/event-endpoints/"+all["id"].(string)+"/deliveries?limit=200", nil)["deliveries"].([]any)
		retried := 0
		for _, d := range log {
			m := d.(map[string]any)
			if m["status"] != "delivered" || m["last_status_code"] != float64(204) || m["latency_ms"] == nil || m["next_attempt_at"] != nil {
				t.Fatalf("a delivery in the log: %v", m)
			}
			if m["attempts"].(float64) > 1 {
				retried++
			}
		}
		if retried == 0 {
			t.Fatal("the delivery log shows no retry, though the endpoint was down")
		}
		a.must(204, "DELETE", "/v1/event-endpoints/"+some["id"].(string), nil)
		a.must(404, "GET", "/v1/event-endpoints/"+some["id"].(string)+"/deliveries", nil)
		srv.stop(t)
	})
}

// TestEventsSurviveKillNine: events queue while the endpoint is down; the
// server is killed with SIGKILL; the endpoint comes back and the server
// restarts. Every event is delivered at least once, those tried before
// the kill under the same webhook-id, in order.
func TestEventsSurviveKillNine(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		// A short timeout makes a short lease, which a killed instance
		// leaves behind.
		in.extra = []string{"TWOSTEP_DELIVERY_MAX_BACKOFF=200ms", "TWOSTEP_DELIVERY_TIMEOUT=500ms"}
		in.mustRun("migrate")
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: in.apiKey()}
		rcv := providertest.StartReceiver(t)
		rcv.Down(true)
		ep := a.must(201, "POST", "/v1/event-endpoints", map[string]any{"url": rcv.URL})
		rcv.SetSecret(ep["secret"].(string))
		co1, users1 := company(t, a, map[string]any{}, 3)
		co2, users2 := company(t, a, map[string]any{}, 3)
		toggles(t, []apiClient{a}, map[string][]string{co1: users1, co2: users2}, 2)
		providertest.WaitFor(t, 20*time.Second, "tries while the endpoint is down", func() bool { return rcv.Refused() >= 6 })
		tried := rcv.RefusedIDs()
		srv.cmd.Process.Signal(syscall.SIGKILL)
		<-srv.done
		rcv.Down(false)

		srv = in.serve()
		a.base = srv.URL
		feed := settledFeed(t, a, co1, co2)
		waitDelivered(t, rcv, feed, 60*time.Second)
		checkInOrder(t, a, rcv, feed, false)
		_, seen := firstArrivals(rcv.Deliveries())
		for _, id := range tried {
			if seen[id] == 0 {
				t.Fatalf("event %s, tried before the kill, was not delivered under its webhook-id after it", id)
			}
		}
		srv.stop(t)
	})
}

// TestEventsFromThreeInstances: three instances on one PostgreSQL take
// writes from 16 writers at once; the endpoint gets each event exactly
// once, each company's in order.
func TestEventsFromThreeInstances(t *testing.T) {
	in := newInstance(t, storetest.PostgresURL(t))
	in.extra = []string{"TWOSTEP_DELIVERY_MAX_BACKOFF=300ms", "TWOSTEP_DELIVERY_TIMEOUT=1s"}
	in.mustRun("migrate")
	key := in.apiKey()
	var clients []apiClient
	var servers []*server
	for range 3 {
		s := in.serve()
		servers = append(servers, s)
		clients = append(clients, apiClient{t: t, base: s.URL, key: key})
	}
	a := clients[0]
	rcv := providertest.StartReceiver(t)
	ep := a.must(201, "POST", "/v1/event-endpoints", map[string]any{"url": rcv.URL})
	rcv.SetSecret(ep["secret"].(string))
	users := map[string][]string{}
	var cos []string
	for i := range 3 {
		co, us := company(t, clients[i], map[string]any{}, 3)
		users[co], cos = us, append(cos, co)
	}
	toggles(t, clients, users, 6)
	feed := settledFeed(t, clients[2], cos...)
	waitDelivered(t, rcv, feed, 60*time.Second)
	checkInOrder(t, a, rcv, feed, true)
	if n := len(rcv.Deliveries()); n != len(feed) {
		t.Fatalf("%d deliveries of %d events", n, len(feed))
	}
	for _, s := range servers {
		s.stop(t)
	}
}

package web_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/twostep/twostep/internal/storetest"
)

// TestMetricsStartAtZero reads /metrics of a fresh server with
// Prometheus' own parser: every counter a dashboard would graph is there
// at 0 before anything happened, and HTTP requests are counted by route
// pattern.
func TestMetricsStartAtZero(t *testing.T) {
	s := newTestServer(t, storetest.SQLiteURL(t))
	c := s.client(t)
	families := func() map[string]map[string]float64 {
		t.Helper()
		r := c.do("GET", "/metrics", nil)
		if r.Status != 200 {
			t.Fatalf("/metrics: %d", r.Status)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		parsed, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatalf("Prometheus' parser refuses /metrics: %v", err)
		}
		out := map[string]map[string]float64{}
		for name, f := range parsed {
			out[name] = map[string]float64{}
			for _, m := range f.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				v := m.GetCounter().GetValue()
				if m.GetHistogram() != nil {
					v = float64(m.GetHistogram().GetSampleCount())
				}
				out[name][strings.Join(labels, ",")] = v
			}
		}
		return out
	}
	fresh := families()
	for name, series := range map[string][]string{
		"twostep_challenges_created_total":      {"app=web,channel=sms", "app=manager,channel=email"},
		"twostep_verifications_total":           {"result=approved", "result=rejected", "result=refused"},
		"twostep_sends_total":                   {"channel=sms,outcome=sent", "channel=email,outcome=failed"},
		"twostep_delivery_latency_seconds":      {"channel=sms", "channel=email"},
		"twostep_http_request_duration_seconds": {"route=POST /v1/challenges/{challenge}/verify", "route=GET /verify/{token}"},
	} {
		for _, labels := range series {
			v, ok := fresh[name][labels]
			if !ok || v != 0 {
				t.Errorf("a fresh server's %s{%s}: %v (present %v), want 0", name, labels, v, ok)
			}
		}
	}
	c.must(200, "GET", "/healthz", nil)
	c.do("GET", "/v1/companies/co_none", nil)
	later := families()
	if v := later["twostep_http_requests_total"]["code=200,route=GET /healthz"]; v != 1 {
		t.Errorf("healthz counted %v times, want 1: %v", v, later["twostep_http_requests_total"])
	}
	if v := later["twostep_http_requests_total"]["code=404,route=GET /v1/companies/{company}"]; v != 1 {
		t.Errorf("a 404 by route counted %v times: %v", v, later["twostep_http_requests_total"])
	}
}

// TestLogsNameRoutesNotPaths: the request log names the route pattern,
// so a hosted page's token never reaches it, however the path is spelled.
func TestLogsNameRoutesNotPaths(t *testing.T) {
	s := newTestServer(t, storetest.SQLiteURL(t))
	const token = "Sup3rSecretTok3nValue"
	for _, p := range []string{"/verify/" + token, "//verify/" + token, "/verify/" + token + "/", "/admin/setup/" + token,
		"/./verify/" + token, "/v1/../verify/" + token, "/nowhere/" + token} {
		req, _ := http.NewRequest("GET", s.URL+p, nil)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	logs := s.Logs.String()
	if strings.Contains(logs, token) {
		t.Fatalf("a token reached the log:\n%s", logs)
	}
	if !strings.Contains(logs, `"route":"GET /verify/{token}"`) || !strings.Contains(logs, `"route":"unmatched"`) {
		t.Fatalf("the log does not name the routes:\n%s", logs)
	}
}

package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Twilio sends SMS through Twilio's Messages API with a small net/http
// client: POST /2010-04-01/Accounts/{SID}/Messages.json with the form
// fields To, From (or MessagingServiceSid) and Body, and HTTP basic auth.
type Twilio struct {
	endpoint string
	sid      string
	token    string
	from     string
	client   *http.Client
}

// NewTwilio parses twilio://SID:TOKEN@host[:port]?from=+1…&scheme=https|http.
// The host is api.twilio.com in production and a stand-in in tests; from
// is a phone number or a Messaging Service SID (MG…).
func NewTwilio(raw string) (*Twilio, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil, errors.New("the Twilio URL must be twilio://SID:TOKEN@api.twilio.com?from=+1…")
	}
	token, _ := u.User.Password()
	q := u.Query()
	scheme := q.Get("scheme")
	if scheme == "" {
		scheme = "https"
	}
	if scheme != "https" && scheme != "http" {
		return nil, fmt.Errorf("scheme must be https or http, not %q", scheme)
	}
	host := u.Host
	if host == "" {
		host = "api.twilio.com"
	}
	t := &Twilio{sid: u.User.Username(), token: token, from: q.Get("from"),
		endpoint: scheme + "://" + host + "/2010-04-01/Accounts/" + url.PathEscape(u.User.Username()) + "/Messages.json",
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true,
		}}}
	if t.sid == "" || t.token == "" || t.from == "" {
		return nil, errors.New("the Twilio URL needs SID, TOKEN and from=")
	}
	return t, nil
}

// twilioError is Twilio's error body.
type twilioError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Send posts one SMS. Twilio's 4xx answers are permanent (a refused
// number, say), except 408 and 429; 5xx and network errors are temporary.
func (t *Twilio) Send(ctx context.Context, m Outgoing) (string, error) {
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if strings.HasPrefix(t.from, "MG") {
		form.Set("MessagingServiceSid", t.from)
	} else {
		form.Set("From", t.from)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", permanent(err)
	}
	req.SetBasicAuth(t.sid, t.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// Twilio drops a repeated request with the same key within 24 hours, so
	// a retry after a lost answer does not send the code twice.
	req.Header.Set("I-Twilio-Idempotency-Token", fmt.Sprintf("twostep-%d", m.ID))
	res, err := t.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio: %w", errors.Unwrap(err)) // without the URL
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 == 2 {
		var ok struct {
			SID string `json:"sid"`
		}
		json.Unmarshal(body, &ok)
		return ok.SID, nil
	}
	var te twilioError
	json.Unmarshal(body, &te)
	err = fmt.Errorf("twilio answered %d (code %d): %s", res.StatusCode, te.Code, clipText(te.Message, 200))
	if res.StatusCode/100 == 4 && res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusRequestTimeout {
		return "", permanent(err)
	}
	return "", err
}

// clipText cuts s to n bytes.
func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

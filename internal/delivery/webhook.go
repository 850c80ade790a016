package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook sends SMS by POSTing JSON to the operator's own endpoint, which
// hands it to their SMS provider. The body is signed with HMAC-SHA256 in
// the Twostep-Signature header, "t=<unix time>,v1=<hex>", over
// "<unix time>.<body>", so the receiver can check it came from Twostep
// and is fresh.
type Webhook struct {
	url    string
	key    []byte
	client *http.Client
	now    func() time.Time
}

// WebhookPayload is the JSON a webhook receives.
type WebhookPayload struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	To      string `json:"to"`
	Text    string `json:"text"`
}

// NewWebhook parses webhook+https://host/path (or webhook+http:// for a
// receiver on the same host).
func NewWebhook(raw string, key []byte) (*Webhook, error) {
	target := strings.TrimPrefix(raw, "webhook+")
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("the webhook URL must be webhook+https://host/path")
	}
	if len(key) == 0 {
		return nil, errors.New("the webhook needs a signing key")
	}
	return &Webhook{url: target, key: key, now: time.Now,
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
		}}}, nil
}

// Sign returns the Twostep-Signature of body at time t.
func Sign(key, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a Twostep-Signature header against body, refusing
// signatures older than maxAge. Receivers in Go can use it as it is.
func VerifySignature(key, body []byte, header string, now time.Time, maxAge time.Duration) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return false
	}
	want := Sign(key, body, time.Unix(sec, 0))
	return hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig))
}

// Send posts one message. 2xx is success; 4xx other than 408 and 429 is
// permanent; the rest is tried again.
func (w *Webhook) Send(ctx context.Context, m Outgoing) (string, error) {
	body, err := json.Marshal(WebhookPayload{ID: fmt.Sprintf("msg_%d", m.ID), Channel: string(m.Channel), To: m.To, Text: m.Text})
	if err != nil {
		return "", permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return "", permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Twostep-Signature", Sign(w.key, body, w.now()))
	res, err := w.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("webhook: %w", errors.Unwrap(err))
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 == 2 {
		return fmt.Sprintf("msg_%d", m.ID), nil
	}
	err = fmt.Errorf("webhook answered %d", res.StatusCode)
	if res.StatusCode/100 == 4 && res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusRequestTimeout {
		return "", permanent(err)
	}
	return "", err
}

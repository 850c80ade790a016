package delivery

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DevMessage is a message kept by the dev inbox.
type DevMessage struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Channel string    `json:"channel"`
	To      string    `json:"to"`
	Subject string    `json:"subject,omitempty"`
	Text    string    `json:"text"`
}

// DevInbox is the dev sender: it keeps the newest messages in memory, for
// the dev inbox page, so the whole flow can be tried with no provider. It
// shows codes in clear, so it exists only when an operator picks "dev".
type DevInbox struct {
	mu   sync.Mutex
	max  int
	seq  int
	msgs []DevMessage
}

// NewDevInbox keeps up to max messages.
func NewDevInbox(max int) *DevInbox { return &DevInbox{max: max} }

// Send keeps the message.
func (d *DevInbox) Send(_ context.Context, m Outgoing) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	id := fmt.Sprintf("dev-%d", d.seq)
	d.msgs = append(d.msgs, DevMessage{ID: id, Time: time.Now().UTC(), Channel: string(m.Channel),
		To: m.To, Subject: m.Subject, Text: m.Text})
	if len(d.msgs) > d.max {
		d.msgs = slices.Delete(d.msgs, 0, len(d.msgs)-d.max)
	}
	return id, nil
}

// Messages returns the kept messages, newest first.
func (d *DevInbox) Messages() []DevMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Clone(d.msgs)
	slices.Reverse(out)
	return out
}

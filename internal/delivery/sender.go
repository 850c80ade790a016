package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
)

// Sender hands one message to a provider and returns the provider's id
// for it. An error wrapped in PermanentError will not succeed on retry.
type Sender interface {
	Send(ctx context.Context, m Outgoing) (providerID string, err error)
}

// PermanentError marks a failure that trying again cannot fix, such as a
// number the provider refuses.
type PermanentError struct{ Err error }

func (e PermanentError) Error() string { return e.Err.Error() }
func (e PermanentError) Unwrap() error { return e.Err }

// permanent wraps err as a PermanentError.
func permanent(err error) error { return PermanentError{err} }

// IsPermanent reports whether err is a PermanentError.
func IsPermanent(err error) bool {
	var p PermanentError
	return errors.As(err, &p)
}

// Senders are the configured senders, one per channel, and the dev inbox
// when a dev sender is on (else nil).
type Senders struct {
	ByChannel map[twostep.Channel]Sender
	Inbox     *DevInbox
}

// Options are what the senders need besides their URLs.
type Options struct {
	WebhookKey []byte // signs webhook bodies
}

// Open builds the senders from the TWOSTEP_EMAIL and TWOSTEP_SMS values.
// With TWOSTEP_SMS=none there is no SMS sender: codes go by email only.
func Open(email, sms string, opt Options) (Senders, error) {
	s := Senders{ByChannel: map[twostep.Channel]Sender{}}
	dev := func() Sender {
		if s.Inbox == nil {
			s.Inbox = NewDevInbox(200)
		}
		return s.Inbox
	}
	switch {
	case email == "dev":
		s.ByChannel[twostep.ChannelEmail] = dev()
	case strings.HasPrefix(email, "smtp://"), strings.HasPrefix(email, "smtps://"):
		sender, err := NewSMTP(email)
		if err != nil {
			return s, fmt.Errorf("TWOSTEP_EMAIL: %w", err)
		}
		s.ByChannel[twostep.ChannelEmail] = sender
	default:
		return s, fmt.Errorf("TWOSTEP_EMAIL must be smtp://… or dev")
	}
	switch {
	case sms == "none": // email only
	case sms == "dev":
		s.ByChannel[twostep.ChannelSMS] = dev()
	case strings.HasPrefix(sms, "twilio://"):
		sender, err := NewTwilio(sms)
		if err != nil {
			return s, fmt.Errorf("TWOSTEP_SMS: %w", err)
		}
		s.ByChannel[twostep.ChannelSMS] = sender
	case strings.HasPrefix(sms, "webhook+"):
		sender, err := NewWebhook(sms, opt.WebhookKey)
		if err != nil {
			return s, fmt.Errorf("TWOSTEP_SMS: %w", err)
		}
		s.ByChannel[twostep.ChannelSMS] = sender
	default:
		return s, fmt.Errorf("TWOSTEP_SMS must be twilio://…, webhook+https://…, none or dev")
	}
	return s, nil
}

// Close closes the senders that hold connections.
func (s Senders) Close() error {
	var errs []error
	for _, snd := range s.ByChannel {
		if c, ok := snd.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// redactURL shows a provider URL without its password, for errors and logs.
func redactURL(u *url.URL) string {
	return u.Redacted()
}

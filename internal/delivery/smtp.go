package delivery

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTP sends email through an SMTP server, keeping a few connections open
// between messages instead of dialling for each.
type SMTP struct {
	from    string
	addr    string // for errors: host:port, never the password
	options []mail.Option
	host    string
	idle    chan *mail.Client
}

// smtpAuth maps the URL's auth parameter to go-mail's mechanisms. PLAIN
// is the default; go-mail refuses to send it unencrypted except to
// localhost.
var smtpAuth = map[string]mail.SMTPAuthType{
	"": mail.SMTPAuthPlain, "plain": mail.SMTPAuthPlain, "login": mail.SMTPAuthLogin,
	"cram-md5": mail.SMTPAuthCramMD5, "auto": mail.SMTPAuthAutoDiscover,
}

// smtpPool is how many connections stay open between messages.
const smtpPool = 4

// NewSMTP parses smtp://user:pass@host:port?from=addr&tls=starttls|tls|none
// (and optionally auth=plain|login|cram-md5|auto).
// STARTTLS is the default; smtps:// means tls. Without a port, 587 is used
// for starttls, 465 for tls and 25 for none.
func NewSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("the SMTP URL does not parse")
	}
	q := u.Query()
	mode := q.Get("tls")
	if mode == "" {
		mode = "starttls"
		if u.Scheme == "smtps" {
			mode = "tls"
		}
	}
	ports := map[string]int{"starttls": 587, "tls": 465, "none": 25}
	port, ok := ports[mode]
	if !ok {
		return nil, fmt.Errorf("tls must be starttls, tls or none, not %q", mode)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("bad port %q", p)
		}
	}
	if u.Hostname() == "" {
		return nil, errors.New("the SMTP URL needs a host")
	}
	from := q.Get("from")
	if a, err := netmail.ParseAddress(from); err != nil || a.Address == "" {
		return nil, errors.New("the SMTP URL needs from=address, the sender of codes")
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(10 * time.Second)}
	switch mode {
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL(), mail.WithTLSPolicy(mail.TLSMandatory))
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if u.User != nil {
		auth, ok := smtpAuth[q.Get("auth")]
		if !ok {
			return nil, fmt.Errorf("auth must be plain, login, cram-md5 or auto, not %q", q.Get("auth"))
		}
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	return &SMTP{from: from, addr: u.Host, options: opts, host: u.Hostname(), idle: make(chan *mail.Client, smtpPool)}, nil
}

// Send sends one email. A kept connection that has gone stale is replaced
// once before the send counts as failed.
func (s *SMTP) Send(ctx context.Context, m Outgoing) (string, error) {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return "", permanent(fmt.Errorf("sender address: %w", err))
	}
	if err := msg.To(m.To); err != nil {
		return "", permanent(errors.New("the recipient address is not valid"))
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	msg.SetMessageID()
	msg.SetDate()
	id := ""
	if h := msg.GetGenHeader(mail.HeaderMessageID); len(h) > 0 {
		id = h[0]
	}

	for try := 0; ; try++ {
		c, reused, err := s.conn(ctx)
		if err != nil {
			return "", fmt.Errorf("SMTP %s: connect: %w", s.addr, err)
		}
		err = c.Send(msg)
		if err == nil {
			s.release(c)
			return id, nil
		}
		c.Close()
		var se *mail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
			return "", permanent(fmt.Errorf("SMTP %s refused the message: %d", s.addr, se.ErrorCode()))
		}
		if !reused || try > 0 {
			return "", fmt.Errorf("SMTP %s: %w", s.addr, err)
		}
		msg.Reset() // forget the failed attempt's error; try a fresh connection
	}
}

// conn returns an idle connection or dials a new one.
func (s *SMTP) conn(ctx context.Context) (*mail.Client, bool, error) {
	select {
	case c := <-s.idle:
		return c, true, nil
	default:
	}
	c, err := mail.NewClient(s.host, s.options...)
	if err != nil {
		return nil, false, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, false, err
	}
	return c, false, nil
}

// release keeps a connection for the next message, or closes it when
// enough are kept.
func (s *SMTP) release(c *mail.Client) {
	select {
	case s.idle <- c:
	default:
		c.Close()
	}
}

// Close closes the kept connections.
func (s *SMTP) Close() error {
	for {
		select {
		case c := <-s.idle:
			c.Close()
		default:
			return nil
		}
	}
}

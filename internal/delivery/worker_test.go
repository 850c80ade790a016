package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// rig is a service on a real store whose worker sends through Mailpit
// and the Twilio stand-in.
type rig struct {
	svc     *twostep.Service
	worker  *delivery.Worker
	metrics *metrics.Metrics
	mailpit *providertest.Mailpit
	twilio  *providertest.Twilio
	senders delivery.Senders
	company twostep.Company
	caller  twostep.Caller
}

func newRig(tb testing.TB, dbURL, settings string) *rig {
	tb.Helper()
	return newRigWith(tb, dbURL, settings, delivery.WorkerOptions{MaxBackoff: 100 * time.Millisecond, Poll: 100 * time.Millisecond})
}

// newRigWith is newRig with its worker's options.
func newRigWith(tb testing.TB, dbURL, settings string, opt delivery.WorkerOptions) *rig {
	tb.Helper()
	r := &rig{mailpit: providertest.StartMailpit(tb), twilio: providertest.StartTwilio(tb),
		caller: twostep.Caller{KeyID: "key_test", KeyName: "test"}}
	db := storetest.Open(tb, dbURL)
	r.svc = twostep.NewService(db, twostep.Options{AuditKey: []byte("a"), CodeKey: []byte("c"),
		OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute})
	senders, err := delivery.Open("smtp://"+r.mailpit.SMTPAddr+"?from=codes%40twostep.test&tls=none", r.twilio.SenderURL(), delivery.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { senders.Close() })
	r.metrics = metrics.New(r.svc.OutboxDepth)
	r.senders = senders
	r.worker = delivery.NewWorker(r.svc, senders.ByChannel, slog.New(slog.DiscardHandler), r.metrics, opt)
	r.svc.SetCourier(r.worker)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.worker.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	if r.company, err = r.svc.CreateCompany(ctx, r.caller, "Acme"); err != nil {
		tb.Fatal(err)
	}
	var p twostep.SettingsPatch
	json.Unmarshal([]byte(settings), &p)
	if _, err := r.svc.UpdateSettings(ctx, r.caller, r.company.ID, p); err != nil {
		tb.Fatal(err)
	}
	return r
}

func (r *rig) user(tb testing.TB, i int) twostep.User {
	tb.Helper()
	u, err := r.svc.CreateUser(context.Background(), r.caller, r.company.ID, twostep.NewUser{
		Name: fmt.Sprint("User ", i), Email: fmt.Sprintf("user%d@acme.test", i), Phone: fmt.Sprintf("+3712%07d", 1000000+i),
		TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func (r *rig) start(tb testing.TB, u twostep.User) twostep.ChallengeView {
	tb.Helper()
	res, err := r.svc.CreateChallenge(context.Background(), r.caller, r.company.ID, u.ID, twostep.NewChallenge{App: "web"})
	if err != nil {
		tb.Fatal(err)
	}
	return res.ChallengeView
}

func TestWorkerDeliversThroughProviders(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		r := newRig(t, dbURL, `{"delivery_method":"sms_then_email"}`)
		u := r.user(t, 1)
		v := r.start(t, u)
		providertest.WaitFor(t, 10*time.Second, "the SMS", func() bool { return len(r.twilio.Messages()) == 1 })
		sms := r.twilio.Messages()[0]
		code := providertest.Code(sms.Body)
		if sms.To != u.Phone || code == "" {
			t.Fatalf("SMS %+v", sms)
		}
		// A wrong code makes email available; the code sent by email passes.
		if _, res, err := r.svc.Verify(ctx, r.caller, v.ID, twostep.Proof{Code: fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)}); err != nil || res != twostep.ResultRejected {
			t.Fatal(res, err)
		}
		if _, err := r.svc.Resend(ctx, r.caller, v.ID, twostep.ChannelEmail); err != nil {
			t.Fatal(err)
		}
		var emails []providertest.Email
		providertest.WaitFor(t, 10*time.Second, "the email", func() bool { emails = r.mailpit.Messages(t); return len(emails) == 1 })
		if emails[0].To[0] != u.Email || emails[0].Subject != "Your Acme sign-in code" {
			t.Fatalf("email %+v", emails[0])
		}
		if _, res, err := r.svc.Verify(ctx, r.caller, v.ID, twostep.Proof{Code: providertest.Code(emails[0].Text)}); err != nil || res != twostep.ResultApproved {
			t.Fatalf("the emailed code: %s %v", res, err)
		}
		providertest.WaitFor(t, 5*time.Second, "delivery sent by email", func() bool {
			got, _ := r.svc.Challenge(ctx, r.caller, v.ID)
			return got.Delivery == twostep.Delivery{Status: twostep.DeliverySent, Channel: twostep.ChannelEmail}
		})
		if n := testutil.ToFloat64(r.metrics.Sends.WithLabelValues("sms", "sent")); n != 1 {
			t.Fatalf("sms sent metric %v", n)
		}
	})
}

// TestWorkerSendsWhatItIsHanded sets the worker's look at the outbox to
// once an hour: the code still goes out at once, handed over by the
// service as the challenge commits, without a claim.
func TestWorkerSendsWhatItIsHanded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		r := newRigWith(t, dbURL, `{"delivery_method":"sms_then_email"}`, delivery.WorkerOptions{Poll: time.Hour})
		time.Sleep(50 * time.Millisecond) // let the worker's first look go by
		r.start(t, r.user(t, 1))
		providertest.WaitFor(t, 5*time.Second, "the SMS", func() bool { return len(r.twilio.Messages()) == 1 })
	})
}

// TestLeasedMessageOutlivesItsWorker queues a message leased to a worker
// that never runs, as if its process died just after the commit. Another
// worker leaves it alone while the lease lasts and sends it, once, after.
func TestLeasedMessageOutlivesItsWorker(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		const lease = 2 * time.Second
		r := newRigWith(t, dbURL, `{"delivery_method":"sms_then_email"}`, delivery.WorkerOptions{
			MaxBackoff: 100 * time.Millisecond, Poll: 50 * time.Millisecond, Lease: lease, SendTimeout: 500 * time.Millisecond})
		dead := delivery.NewWorker(r.svc, r.senders.ByChannel, slog.New(slog.DiscardHandler), r.metrics,
			delivery.WorkerOptions{Lease: lease, SendTimeout: 500 * time.Millisecond})
		r.svc.SetCourier(dead)
		queued := time.Now()
		r.start(t, r.user(t, 1))
		providertest.WaitFor(t, 10*time.Second, "the SMS", func() bool { return len(r.twilio.Messages()) == 1 })
		if waited := time.Since(queued); waited < lease {
			t.Fatalf("sent after %v, while the dead worker's lease of %v lasted", waited, lease)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(r.twilio.Messages()); n != 1 {
			t.Fatalf("%d SMS, want 1", n)
		}
	})
}

func TestWorkerRetriesUntilTheProviderIsBack(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		r := newRig(t, dbURL, `{"delivery_method":"sms_then_email"}`)
		r.twilio.Fail(http.StatusServiceUnavailable)
		var views []twostep.ChallengeView
		for i := range 5 {
			views = append(views, r.start(t, r.user(t, i)))
		}
		providertest.WaitFor(t, 10*time.Second, "retries", func() bool { return r.twilio.Requests() >= 15 })
		if n := len(r.twilio.Messages()); n != 0 {
			t.Fatalf("%d messages accepted while failing", n)
		}
		r.twilio.Fail(0)
		providertest.WaitFor(t, 10*time.Second, "every SMS", func() bool { return len(r.twilio.Messages()) == 5 })
		for _, v := range views {
			// The provider has it; the worker records that just after.
			providertest.WaitFor(t, 5*time.Second, "delivery status sent", func() bool {
				got, _ := r.svc.Challenge(ctx, r.caller, v.ID)
				return got.Delivery.Status == twostep.DeliverySent
			})
		}
		if n := testutil.ToFloat64(r.metrics.Sends.WithLabelValues("sms", "retry")); n < 10 {
			t.Fatalf("retry metric %v", n)
		}
	})
}

func TestWorkerGivesUpOnPermanentFailure(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		r := newRig(t, dbURL, `{"delivery_method":"sms_then_email"}`)
		r.twilio.Fail(http.StatusBadRequest)
		v := r.start(t, r.user(t, 1))
		var got twostep.ChallengeView
		providertest.WaitFor(t, 10*time.Second, "the failure", func() bool {
			got, _ = r.svc.Challenge(ctx, r.caller, v.ID)
			return got.Delivery.Status == twostep.DeliveryFailed
		})
		if r.twilio.Requests() != 1 || len(got.ChannelsAvailable) != 2 {
			t.Fatalf("%d requests; channels %v", r.twilio.Requests(), got.ChannelsAvailable)
		}
	})
}

// BenchmarkOutboxToMailpit measures codes per second from the outbox
// through the worker to a real SMTP server.
func BenchmarkOutboxToMailpit(b *testing.B) {
	r := newRig(b, storetest.SQLiteURL(b), `{"delivery_method":"email_only"}`)
	users := make([]twostep.User, 0, b.N)
	for i := range b.N {
		users = append(users, r.user(b, i))
	}
	b.ResetTimer()
	for _, u := range users {
		r.start(b, u)
	}
	providertest.WaitFor(b, 5*time.Minute, "every email", func() bool {
		n, _ := r.svc.OutboxDepth(ctx)
		return n == 0
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "emails/s")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

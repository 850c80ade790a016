package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

func TestDescribe(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		e    twostep.AuditEvent
		want string
	}{
		{twostep.AuditEvent{Action: twostep.ActionSettingsGeneralChanged,
			Details: json.RawMessage(`{"field":"delivery_method","from":"email_only","to":"sms_then_email"}`)},
			"Changed authentication code delivery from email only to SMS first, email as backup"},
		{twostep.AuditEvent{Action: twostep.ActionSettingsGeneralChanged,
			Details: json.RawMessage(`{"field":"responsible_contact.email","from":null,"to":"rita@acme.com"}`)},
			"Changed responsible person's email from (none) to rita@acme.com"},
		{twostep.AuditEvent{Action: twostep.ActionSettingsDefaultsChanged,
			Details: json.RawMessage(`{"field":"defaults.manager","from":false,"to":true}`)},
			"Changed default 2FA for new users in the Manager app from off to on"},
		{twostep.AuditEvent{Action: twostep.ActionTwoFADisabled, TargetName: "Anna", App: twostep.AppWeb},
			"Turned off 2FA for Anna in the Web application"},
		{twostep.AuditEvent{Action: twostep.ActionTwoFALocked, TargetName: "Anna", App: twostep.AppWeb, Time: at,
			Details: json.RawMessage(`{"failed_attempts":10,"challenge_id":"ch_1","locked_until":"2026-12-01T09:15:00Z"}`)},
			"Anna was locked out of the Web application for 15 minutes after 10 wrong codes in a row"},
		{twostep.AuditEvent{Action: twostep.ActionTwoFALocked, TargetName: "Anna", App: twostep.AppManager, Time: at,
			Details: json.RawMessage(`{"failed_attempts":30,"challenge_id":"ch_1","locked_until":"2026-12-01T09:15:00Z"}`)},
			"Anna was locked out of the Manager app for 15 minutes after 30 wrong codes in a row"},
		{twostep.AuditEvent{Action: twostep.ActionTwoFALocked, TargetName: "Anna", App: twostep.AppWeb, Time: at,
			Details: json.RawMessage(`{"failed_attempts":100,"challenge_id":"ch_1"}`)},
			"Anna was locked out of the Web application after 100 wrong codes in a row, until an admin unlocks it"},
		{twostep.AuditEvent{Action: twostep.ActionTwoFAFailedAttempts, TargetName: "Anna", App: twostep.AppWeb,
			Details: json.RawMessage(`{"failed_attempts":3,"challenge_id":"ch_1"}`)},
			"Anna entered a wrong code 3 times in a row in the Web application"},
		{twostep.AuditEvent{Action: twostep.ActionUserUpdated, TargetName: "Anna",
			Details: json.RawMessage(`{"field":"phone","from":"+37120000002","to":null}`)},
			"Changed Anna's phone from +37120000002 to (none)"},
		{twostep.AuditEvent{Action: twostep.ActionDeliveryFailed, TargetName: "Anna", App: twostep.AppWeb,
			Details: json.RawMessage(`{"channel":"sms","reason":"unreachable"}`)},
			"Could not deliver a sign-in code to Anna by SMS in the Web application"},
		{twostep.AuditEvent{Action: twostep.ActionDeliveryFailed, TargetName: "Ben",
			Details: json.RawMessage(`{"channel":"email","kind":"setup_link","reason":"550"}`)},
			"Could not deliver Ben's admin set-up link by email"},
		{twostep.AuditEvent{Action: twostep.ActionNotificationSent, TargetName: "Anna", App: twostep.AppWeb,
			Details: json.RawMessage(`{"notice":"locked","recipient":"responsible","to":"rita@acme.com","name":"Rita Berg"}`)},
			"Emailed Rita Berg (rita@acme.com), the responsible person, that Anna was locked out of the Web application"},
		{twostep.AuditEvent{Action: twostep.ActionNotificationSent, TargetName: "Anna",
			Details: json.RawMessage(`{"notice":"authenticator_added","recipient":"user","to":"anna@acme.com","name":"Anna"}`)},
			"Emailed Anna (anna@acme.com) that a sign-in method was added to their account"},
		{twostep.AuditEvent{Action: twostep.ActionNotificationSent, TargetName: "Anna", App: twostep.AppManager,
			Details: json.RawMessage(`{"notice":"failed_attempts","recipient":"responsible","to":"rita@acme.com"}`)},
			"Emailed rita@acme.com, the responsible person, that Anna entered 3 wrong codes in a row in the Manager app"},
		{twostep.AuditEvent{Action: twostep.ActionAdminInvited, TargetName: "Ben", Details: json.RawMessage(`{"email":"ben@acme.com"}`)},
			"Invited Ben (ben@acme.com) to be an admin"},
		{twostep.AuditEvent{Action: twostep.ActionAdminRemoved, TargetName: "Ben"}, "Removed Ben as an admin"},
		{twostep.AuditEvent{Action: twostep.ActionAdminSignedOutEverywhere, Details: json.RawMessage(`{"sessions":2}`)},
			"Signed out of the console everywhere (2 sessions)"},
	} {
		if got := Describe(tc.e); got != tc.want {
			t.Errorf("Describe(%s %s) = %q, want %q", tc.e.Action, tc.e.Details, got, tc.want)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1":         "'=1+1",
		"+37120000001": "'+37120000001",
		"-2":           "'-2",
		"@SUM(A1)":     "'@SUM(A1)",
		"\t=1":         " =1",
		"Rita\nBerg":   "Rita Berg",
		"Anna Ozola":   "Anna Ozola",
		"":             "",
		"a=b":          "a=b",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBrowserName(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":                           "Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0":                   "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.0; rv:121.0) Gecko/20100101 Firefox/121.0":                                                     "Firefox on macOS",
		"curl/8.0": "",
	} {
		if got := browserName(ua); got != want {
			t.Errorf("browserName(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestEveryActionHasALabel: the audit page's action filter names every
// action, so that none shows as an empty choice.
func TestEveryActionHasALabel(t *testing.T) {
	for _, a := range twostep.Actions {
		if actionLabels[a] == "" {
			t.Errorf("action %s has no label in the audit log's filter", a)
		}
	}
}

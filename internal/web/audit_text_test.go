package web

import (
	"encoding/json"
	"testing"

	"github.com/twostep/twostep/internal/twostep"
)

func TestDescribe(t *testing.T) {
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
		{twostep.AuditEvent{Action: twostep.ActionUserUpdated, TargetName: "Anna",
			Details: json.RawMessage(`{"field":"phone","from":"+37120000002","to":null}`)},
			"Changed Anna's phone from +37120000002 to (none)"},
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

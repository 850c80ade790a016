package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// change is the {field, from, to} of an event's details, values left raw.
type change struct {
	Field string          `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

func changeOf(e twostep.AuditEvent) change {
	var c change
	if len(e.Details) > 0 {
		json.Unmarshal(e.Details, &c)
	}
	return c
}

// failure is the details of a failure threshold's event.
type failure struct {
	FailedAttempts int    `json:"failed_attempts"`
	LockedUntil    string `json:"locked_until"`
}

func failureOf(e twostep.AuditEvent) failure {
	var f failure
	if len(e.Details) > 0 {
		json.Unmarshal(e.Details, &f)
	}
	return f
}

// n is the count of failures, or def for an event that does not say.
func (f failure) n(def int) int {
	if f.FailedAttempts > 0 {
		return f.FailedAttempts
	}
	return def
}

// fieldLabels name the settings as the admin console does.
var fieldLabels = map[string]string{
	"delivery_method":                    "authentication code delivery",
	"responsible_contact.name":           "responsible person's name",
	"responsible_contact.email":          "responsible person's email",
	"responsible_contact.phone":          "responsible person's phone",
	"defaults.web":                       "default 2FA for new users in the Web application",
	"defaults.manager":                   "default 2FA for new users in the Manager app",
	"sms_daily_cap":                      "daily SMS limit",
	"allowed_return_origins":             "allowed return origins",
	"sms_countries":                      "countries that get codes by SMS",
	"notify_responsible.failed_attempts": "emails to the responsible person at 3 wrong codes in a row",
	"notify_responsible.locked":          "emails to the responsible person when a user is locked out",
	"twofa.web":                          "2FA in the Web application",
	"twofa.manager":                      "2FA in the Manager app",
	"external_id":                        "external ID",
	"name":                               "name",
	"email":                              "email",
	"phone":                              "phone",
	"role":                               "role",
}

// valueLabels show stored values in words.
var valueLabels = map[string]string{
	`"sms_then_email"`: "SMS first, email as backup",
	`"email_only"`:     "email only",
	`true`:             "on",
	`false`:            "off",
	`""`:               "(none)",
	`null`:             "(none)",
	`[]`:               "(none)",
}

// valueText shows one value of a change in words.
func valueText(v json.RawMessage) string {
	if l, ok := valueLabels[string(v)]; ok {
		return l
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		return strings.Join(list, ", ")
	}
	return jsonText(v)
}

// noticeWords says what a notification told its recipient.
func noticeWords(k twostep.NoticeKind, user string, to twostep.Recipient, app string) string {
	their := user + "'s"
	if to == twostep.RecipientUser {
		user, their = "they", "their"
	}
	switch k {
	case twostep.NoticeLocked:
		app = strings.Replace(app, " in the ", " of the ", 1)
		if to == twostep.RecipientUser {
			return "they were locked out" + app
		}
		return user + " was locked out" + app
	case twostep.NoticeFailedAttempts:
		return user + " entered 3 wrong codes in a row" + app
	case twostep.NoticeAuthenticatorAdded:
		return "a sign-in method was added to " + their + " account"
	case twostep.NoticeAuthenticatorRemoved:
		return "a sign-in method was removed from " + their + " account"
	case twostep.NoticeRecoveryCodesGenerated:
		return "new recovery codes were made for " + their + " account"
	case twostep.NoticeRecoveryCodeUsed:
		return "a recovery code was used" + app
	case twostep.NoticeDevicesRevoked:
		return their + " remembered browsers were forgotten"
	}
	return string(k)
}

// Describe says in one sentence what an audit event records.
func Describe(e twostep.AuditEvent) string {
	app := ""
	if e.App != "" {
		app = " in the " + e.App.Title()
	}
	switch e.Action {
	case twostep.ActionSettingsGeneralChanged, twostep.ActionSettingsDefaultsChanged, twostep.ActionUserUpdated:
		c := changeOf(e)
		label, ok := fieldLabels[c.Field]
		if !ok {
			label = c.Field
		}
		if e.Action == twostep.ActionUserUpdated {
			label = e.TargetName + "'s " + label
		}
		return fmt.Sprintf("Changed %s from %s to %s", label, valueText(c.From), valueText(c.To))
	case twostep.ActionTwoFAEnabled:
		return "Turned on 2FA for " + e.TargetName + app
	case twostep.ActionTwoFADisabled:
		return "Turned off 2FA for " + e.TargetName + app
	case twostep.ActionTwoFAFailedAttempts:
		f := failureOf(e)
		return fmt.Sprintf("%s entered a wrong code %d times in a row%s", e.TargetName, f.n(twostep.ContactAfter), app)
	case twostep.ActionTwoFALocked:
		f := failureOf(e)
		if e.App != "" {
			app = " of the " + e.App.Title()
		}
		until, err := time.Parse(time.RFC3339, f.LockedUntil)
		if f.LockedUntil == "" || err != nil {
			return fmt.Sprintf("%s was locked out%s after %d wrong codes in a row, until an admin unlocks it",
				e.TargetName, app, f.n(twostep.MaxFailures))
		}
		return fmt.Sprintf("%s was locked out%s for %s after %d wrong codes in a row",
			e.TargetName, app, inWords(until.Sub(e.Time).Round(time.Minute)), f.n(twostep.LockAfter))
	case twostep.ActionTwoFAUnlocked:
		return "Ended the lockout of " + e.TargetName + app
	case twostep.ActionUserCreated:
		return "Added user " + e.TargetName
	case twostep.ActionUserDeleted:
		return "Deleted user " + e.TargetName
	case twostep.ActionDeliveryFailed:
		var d struct{ Channel, Kind string }
		json.Unmarshal(e.Details, &d)
		by := " by email"
		if d.Channel == string(twostep.ChannelSMS) {
			by = " by SMS"
		}
		switch twostep.MessageKind(d.Kind) {
		case twostep.KindSetupLink:
			return "Could not deliver " + e.TargetName + "'s admin set-up link" + by
		case twostep.KindResetLink:
			return "Could not deliver " + e.TargetName + "'s password reset link" + by
		}
		return "Could not deliver a sign-in code to " + e.TargetName + by + app
	case twostep.ActionAdminInvited:
		var d struct{ Email string }
		json.Unmarshal(e.Details, &d)
		if d.Email != "" {
			return "Invited " + e.TargetName + " (" + d.Email + ") to be an admin"
		}
		return "Invited " + e.TargetName + " to be an admin"
	case twostep.ActionAdminRemoved:
		return "Removed " + e.TargetName + " as an admin"
	case twostep.ActionAdminPasswordReset:
		return "Asked for a link to reset " + e.TargetName + "'s console password"
	case twostep.ActionAdminPasswordSet:
		return e.TargetName + " chose a console password"
	case twostep.ActionNotificationSent:
		var d struct {
			Notice    twostep.NoticeKind
			Recipient twostep.Recipient
			To, Name  string
		}
		json.Unmarshal(e.Details, &d)
		whom := d.To
		if d.Name != "" {
			whom = d.Name + " (" + d.To + ")"
		}
		if d.Recipient == twostep.RecipientResponsible {
			whom += ", the responsible person,"
		}
		return "Emailed " + whom + " that " + noticeWords(d.Notice, e.TargetName, d.Recipient, app)
	case twostep.ActionAdminSignedOutEverywhere:
		var d struct{ Sessions int }
		json.Unmarshal(e.Details, &d)
		return "Signed out of the console everywhere (" + plural(d.Sessions, "session", "sessions") + ")"
	}
	return string(e.Action)
}

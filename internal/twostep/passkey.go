package twostep

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Passkeys and security keys (WebAuthn, with go-webauthn): registered on
// the hosted enrolment page, used on the hosted verification page. Each
// ceremony's state waits in the store, bound to its enrolment link or
// challenge (never a cookie), and is taken by the request that finishes
// it, so its challenge is used once.

// ceremonyLifetime is how long a ceremony waits for the browser.
const ceremonyLifetime = 5 * time.Minute

// newRelyingParty configures WebAuthn for the public URL: the RP id is
// rpID, or else the URL's host, and the one origin is the URL's. A public
// URL on an IP address (the default http://127.0.0.1:8080) has none:
// passkeys need a domain name, such as localhost.
func newRelyingParty(publicURL, rpID string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webauthn: the public URL %q has no host", publicURL)
	}
	if rpID == "" {
		rpID = u.Hostname()
	}
	if _, err := netip.ParseAddr(rpID); err == nil {
		return nil, nil // browsers take no IP address as a relying party: passkeys are off
	}
	return webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Twostep", RPOrigins: []string{u.Scheme + "://" + u.Host}})
}

// passkeyUser is a user as WebAuthn sees them, with their passkeys.
type passkeyUser struct {
	u     User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte                         { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string                       { return accountName(p.u) }
func (p passkeyUser) WebAuthnDisplayName() string                { return p.u.Name }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// passkeysOf reads a user's confirmed passkeys, each with its credential.
func passkeysOf(ctx context.Context, tx AuthenticatorStore, u User) (passkeyUser, []Authenticator, error) {
	all, err := tx.Authenticators(ctx, u.CompanyID, u.ID)
	if err != nil {
		return passkeyUser{}, nil, err
	}
	pu := passkeyUser{u: u}
	var keys []Authenticator
	for _, a := range all {
		if a.Type != AuthenticatorWebAuthn || !a.Confirmed() {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(a.Credential), &c); err != nil {
			return pu, nil, fmt.Errorf("authenticator %s: %w", a.ID, err)
		}
		pu.creds, keys = append(pu.creds, c), append(keys, a)
	}
	return pu, keys, nil
}

// errNoPasskeys answers a passkey ceremony where they cannot be used.
var errNoPasskeys = &Error{Code: CodeForbidden, Message: "Passkeys cannot be used here."}

// BeginPasskey starts adding a passkey on an enrolment page: the options
// for navigator.credentials.create, as JSON.
func (s *Enrolment) BeginPasskey(ctx context.Context, token string) (json.RawMessage, error) {
	e, c, err := s.enrollmentCaller(ctx, token, "", "")
	if err != nil {
		return nil, err
	}
	return s.beginPasskey(ctx, c, e.CompanyID, e.UserID, "en:"+e.TokenHash)
}

// FinishPasskey adds the passkey the browser created, from its answer.
func (s *Enrolment) FinishPasskey(ctx context.Context, token string, answer []byte, ip, userAgent string) error {
	e, c, err := s.enrollmentCaller(ctx, token, ip, userAgent)
	if err != nil {
		return err
	}
	return s.finishPasskey(ctx, c, e.CompanyID, e.UserID, "en:"+e.TokenHash, answer)
}

// BeginOwnPasskey and FinishOwnPasskey add a passkey for the caller
// themself (an admin, for the console's sign-in), the ceremony bound to
// their session.
func (s *Enrolment) BeginOwnPasskey(ctx context.Context, c Caller, session string) (json.RawMessage, error) {
	return s.beginPasskey(ctx, c, c.Scope, c.UserID, "se:"+session)
}

func (s *Enrolment) FinishOwnPasskey(ctx context.Context, c Caller, session string, answer []byte) error {
	return s.finishPasskey(ctx, c, c.Scope, c.UserID, "se:"+session, answer)
}

// beginPasskey starts a registration for a user, the ceremony kept under
// ceremonyID.
func (s *Enrolment) beginPasskey(ctx context.Context, c Caller, companyID, userID, ceremonyID string) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.update(ctx, func(tx Tx) error {
		co, _, u, err := s.owner(ctx, tx, c, companyID, userID, false)
		if err != nil {
			return err
		}
		if s.relyingParty == nil || !co.Settings.Authenticators.WebAuthn {
			return errNoPasskeys
		}
		pu, _, err := passkeysOf(ctx, tx, u)
		if err != nil {
			return err
		}
		exclude := make([]protocol.CredentialDescriptor, len(pu.creds))
		for i := range pu.creds {
			exclude[i] = pu.creds[i].Descriptor()
		}
		creation, session, err := s.relyingParty.BeginRegistration(pu,
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationRequired}),
			webauthn.WithExclusions(exclude))
		if err != nil {
			return Internal(err)
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		out, err = putCeremony(ctx, tx, ceremonyID, session, now, creation)
		return err
	})
	return out, err
}

// putCeremony keeps a ceremony's session and returns the options for the
// browser.
func putCeremony(ctx context.Context, tx Tx, id string, session *webauthn.SessionData, now time.Time, options any) (json.RawMessage, error) {
	data, err := json.Marshal(session)
	if err != nil {
		return nil, Internal(err)
	}
	if err := tx.PutCeremony(ctx, id, string(data), now.Add(ceremonyLifetime)); err != nil {
		return nil, err
	}
	b, err := json.Marshal(options)
	if err != nil {
		return nil, Internal(err)
	}
	return b, nil
}

// takeCeremony takes a ceremony's session, once.
func takeCeremony(ctx context.Context, tx AuthenticatorStore, id string, now time.Time) (webauthn.SessionData, bool, error) {
	var session webauthn.SessionData
	data, err := tx.TakeCeremony(ctx, id, now)
	if errors.Is(err, ErrNotFound) {
		return session, false, nil
	}
	if err != nil {
		return session, false, err
	}
	return session, true, json.Unmarshal([]byte(data), &session)
}

// errPasskeyFailed answers a passkey the browser's answer did not prove.
var errPasskeyFailed = &Error{Code: CodeIncorrect, Field: "passkey", Message: "That passkey could not be checked. Try again, or choose another way."}

// finishPasskey adds the passkey of a registration kept under ceremonyID.
func (s *Enrolment) finishPasskey(ctx context.Context, c Caller, companyID, userID, ceremonyID string, answer []byte) error {
	parsed, perr := protocol.ParseCredentialCreationResponseBytes(answer)
	id, err := newID(s.rand, prefixAuthenticator)
	if err != nil {
		return Internal(err)
	}
	return s.update(ctx, func(tx Tx) error {
		_, actor, u, err := s.owner(ctx, tx, c, companyID, userID, true)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		session, ok, err := takeCeremony(ctx, tx, ceremonyID, now)
		if err != nil || !ok || perr != nil || s.relyingParty == nil {
			return cmp.Or(err, error(errPasskeyFailed))
		}
		pu, _, err := passkeysOf(ctx, tx, u)
		if err != nil {
			return err
		}
		cred, err := s.relyingParty.CreateCredential(pu, session, parsed)
		if err != nil {
			return errPasskeyFailed
		}
		js, err := json.Marshal(cred)
		if err != nil {
			return Internal(err)
		}
		a := Authenticator{ID: id, CompanyID: u.CompanyID, UserID: u.ID, Type: AuthenticatorWebAuthn, Name: passkeyName(cred),
			ConfirmedAt: now, CreatedAt: now, CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID), Credential: string(js)}
		if err := tx.CreateAuthenticator(ctx, a); errors.Is(err, ErrConflict) {
			return &Error{Code: CodeConflict, Message: "This passkey is added already."}
		} else if err != nil {
			return err
		}
		if err := tx.RefreshFactors(ctx, u.CompanyID, u.ID); err != nil {
			return err
		}
		return s.auditAuthenticator(ctx, tx, c, actor, u, a, ActionAuthenticatorAdded, now)
	})
}

// passkeyName names a new passkey: a security key or a passkey, by how
// it says it is kept.
func passkeyName(c *webauthn.Credential) string {
	if c.Authenticator.Attachment == protocol.CrossPlatform {
		return "Security key"
	}
	return "Passkey"
}

// BeginPasskeyLogin starts a sign-in with a passkey on the hosted page:
// the options for navigator.credentials.get, as JSON, the ceremony bound
// to the challenge.
func (s *SignIns) BeginPasskeyLogin(ctx context.Context, verifyToken string) (json.RawMessage, error) {
	id, c, err := s.pageCaller(ctx, verifyToken, "", "")
	if err != nil {
		return nil, err
	}
	return s.beginPasskeyLogin(ctx, c, id)
}

// beginPasskeyLogin starts a passkey ceremony for a challenge.
func (s *SignIns) beginPasskeyLogin(ctx context.Context, c Caller, id string) (json.RawMessage, error) {
	var out json.RawMessage
	var err error
	err = s.update(ctx, func(tx Tx) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		if err := cc.open(); err != nil {
			return err
		}
		p, err := s.policyFor(ctx, tx, cc.co, cc.u, cc.ch)
		if err != nil {
			return err
		}
		if !hasMethod(p.methods(cc.ch, cc.now), MethodWebAuthn) {
			return errNoPasskeys
		}
		pu, _, err := passkeysOf(ctx, tx, cc.u)
		if err != nil {
			return err
		}
		assertion, session, err := s.relyingParty.BeginLogin(pu, webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return Internal(err)
		}
		out, err = putCeremony(ctx, tx, "ch:"+cc.ch.ID, session, cc.now, assertion)
		return err
	})
	return out, err
}

// passkey is the proof of a passkey: the browser's answer to the
// challenge's ceremony, checked against the user's passkeys, its sign
// counter stored. A ceremony is taken once, so a replayed answer finds
// none and is wrong.
type passkey struct{ rp *webauthn.WebAuthn }

func (passkey) ready(challengeContext) error { return nil }

func (m passkey) check(ctx context.Context, tx AuthenticatorStore, cc challengeContext, proof string) (bool, error) {
	session, ok, err := takeCeremony(ctx, tx, "ch:"+cc.ch.ID, cc.now)
	if err != nil || !ok || m.rp == nil {
		return false, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(proof))
	if err != nil {
		return false, nil
	}
	pu, keys, err := passkeysOf(ctx, tx, cc.u)
	if err != nil {
		return false, err
	}
	cred, err := m.rp.ValidateLogin(pu, session, parsed)
	if err != nil || cred.Authenticator.CloneWarning {
		return false, nil
	}
	for i, c := range pu.creds {
		if string(c.ID) != string(cred.ID) {
			continue
		}
		js, err := json.Marshal(cred)
		if err != nil {
			return false, err
		}
		switch err := tx.UseCredential(ctx, keys[i].ID, keys[i].Credential, string(js), cc.now); {
		case errors.Is(err, ErrConflict):
			return false, nil // another sign-in used it in between
		case err != nil:
			return false, err
		}
		return true, nil
	}
	return false, nil
}

func (passkey) settle(*Challenge, bool) {}

// PagePasskey checks a passkey's answer on the hosted page.
func (s *SignIns) PagePasskey(ctx context.Context, verifyToken string, answer []byte, remember bool, ip, userAgent string) (Page, VerifyResult, error) {
	return s.PageVerify(ctx, verifyToken, Proof{Method: MethodWebAuthn, Passkey: answer, Remember: remember, KeepDeviceToken: true}, ip, userAgent)
}

// Passkeys reports whether this service checks passkeys at all (its
// public URL has a domain name).
func (s *core) Passkeys() bool { return s.relyingParty != nil }

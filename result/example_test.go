package result_test

import (
	"fmt"
	"time"

	"github.com/twostep/twostep/result"
)

// A platform's return handler: the browser comes back from the hosted
// page with ?twostep_result=<token>. The platform checks the token against
// Twostep's keys (fetched from /.well-known/jwks.json and parsed with
// ParseJWKS) and against the sign-in it started for this browser, kept in
// its own session when it created the challenge.
func ExampleCheckResultToken() {
	// In a real platform the token comes from the query string and the keys
	// from Twostep; here a signer of the example's own makes both.
	approved := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	signer := result.NewSigner(make([]byte, 32), "https://2fa.example.com")
	token := signer.Sign(result.Claims{
		Subject: "usr_anna", UserID: "usr_anna", Audience: "co_acme", CompanyID: "co_acme",
		ID: "ch_123", ChallengeID: "ch_123", App: "web", Nonce: "n-42", Method: "sms", AMR: []string{"otp", "sms"},
		IssuedAt: approved.Unix(), AuthTime: approved.Unix(), ExpiresAt: approved.Add(result.TTL).Unix(),
		Result: "approved", ApprovedAt: approved.Format(time.RFC3339),
	})
	keys := signer.JWKS()

	// What the platform's session says about this sign-in.
	want := result.Expected{Issuer: "https://2fa.example.com", ChallengeID: "ch_123", CompanyID: "co_acme",
		UserID: "usr_anna", App: "web", Nonce: "n-42"}

	claims, err := result.CheckResultToken(token, keys, want, approved.Add(10*time.Second))
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("signed in:", claims.UserID, "by", claims.Method, claims.AMR)

	// The same token for a sign-in the platform did not start is refused.
	want.ChallengeID = "ch_other"
	_, err = result.CheckResultToken(token, keys, want, approved.Add(10*time.Second))
	fmt.Println("refused:", err)
	// Output:
	// signed in: usr_anna by sms [otp sms]
	// refused: result: token is for another sign-in: challenge_id is "ch_123", expected "ch_other"
}

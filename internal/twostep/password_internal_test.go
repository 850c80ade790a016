package twostep

import (
	"strings"
	"testing"
)

// TestDummyHashCostsWhatAHashDoes checks that the constant checked for
// unknown accounts has the parameters hashPassword uses today, so that
// checking it takes as long as checking a real password.
func TestDummyHashCostsWhatAHashDoes(t *testing.T) {
	real, err := hashPassword(strings.NewReader(strings.Repeat("s", 32)), "a password")
	if err != nil {
		t.Fatal(err)
	}
	params := func(phc string) string { return strings.Join(strings.Split(phc, "$")[:4], "$") }
	if params(dummyHash) != params(real) {
		t.Fatalf("dummy hash %s, a real one %s: parameters differ", params(dummyHash), params(real))
	}
	if passwordMatches("no account has this password", dummyHash) != true || passwordMatches("", dummyHash) {
		t.Fatal("the dummy hash does not check like a real one")
	}
}

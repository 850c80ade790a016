package twostep

import (
	"crypto/rand"
	"testing"
	"time"
)

// The hot paths of a sign-in that need no database (issue 6): making a
// code, keeping it as an HMAC, checking a guess, sealing it for the outbox,
// and chaining an audit event. Run with
// go test -run '^$' -bench . ./internal/twostep.

var benchKey = []byte("benchmark code key, 32 bytes....")

func BenchmarkNewCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newCode(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodeHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		codeHash(benchKey, "ch_benchmarkbenchmarkbenchmark", "123456")
	}
}

// BenchmarkCodeMatches checks a wrong and a right guess per op, as a
// verify does one of them.
func BenchmarkCodeMatches(b *testing.B) {
	const id = "ch_benchmarkbenchmarkbenchmark"
	stored := codeHash(benchKey, id, "123456")
	b.ReportAllocs()
	for b.Loop() {
		if codeMatches(benchKey, id, "654321", stored) || !codeMatches(benchKey, id, "123456", stored) {
			b.Fatal("wrong decision")
		}
	}
}

// BenchmarkSealOpen seals a code for the outbox and opens it, as create
// and delivery do.
func BenchmarkSealOpen(b *testing.B) {
	s, err := newSealer(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	const binding = "ch_benchmarkbenchmarkbenchmark/1/sms"
	b.ReportAllocs()
	for b.Loop() {
		sealed, err := s.seal(rand.Reader, "123456", binding)
		if err != nil {
			b.Fatal(err)
		}
		if code, err := s.open(sealed, binding); err != nil || code != "123456" {
			b.Fatal(code, err)
		}
	}
}

// BenchmarkChainHash is the HMAC of one audit event over its canonical
// JSON and the previous hash.
func BenchmarkChainHash(b *testing.B) {
	e := AuditEvent{CompanyID: "co_benchmark", Seq: 12345, ID: "evt_benchmark", Time: time.Now(),
		Actor: Actor{Type: ActorUser, ID: "usr_admin", Name: "Rita Berg"}, Action: ActionSettingsDefaultsChanged,
		Details: []byte(`{"field":"defaults.web","from":false,"to":true}`), IP: "203.0.113.7", UserAgent: "Mozilla/5.0"}
	prev := ChainHash(benchKey, "", e)
	b.ReportAllocs()
	for b.Loop() {
		prev = ChainHash(benchKey, prev, e)
	}
}

// BenchmarkNormalizeCode is what verify does to the guess first.
func BenchmarkNormalizeCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeCode(" 123-456 "); err != nil {
			b.Fatal(err)
		}
	}
}

package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of the person behind a request: the one answer
// that rate limits, the audit log, the hosted page and the console all
// use. It is the peer address, unless the peer is one of the operator's
// trusted proxies (TWOSTEP_TRUSTED_PROXIES): then it is the rightmost
// X-Forwarded-For address that is not a trusted proxy. Addresses to the
// left of that one were written by whoever sent the request and are not
// believed.
func (s *Server) clientIP(r *http.Request) string {
	return clientAddr(r, s.proxies).String()
}

// clientAddr is clientIP as an address; the zero Addr when the peer's
// address does not parse (a test's fake request).
func clientAddr(r *http.Request, proxies []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !trusted(peer, proxies) {
		return peer
	}
	client := peer
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseAddr(hops[i])
		if !a.IsValid() {
			break // a proxy we trust would not write this: go no further left
		}
		client = a
		if !trusted(a, proxies) {
			break
		}
	}
	return client
}

// forwardedFor lists the X-Forwarded-For addresses, left to right, over
// every such header line.
func forwardedFor(h http.Header) []string {
	var out []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// parseAddr reads an address with or without a port ("192.0.2.1",
// "192.0.2.1:443", "[2001:db8::1]:443", "2001:db8::1"), IPv4-mapped IPv6
// as IPv4 and without an IPv6 zone.
func parseAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// trusted reports whether a is one of the trusted proxies.
func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

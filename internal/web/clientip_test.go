package web

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name    string
		peer    string
		xff     []string
		proxies []netip.Prefix
		want    string
	}{
		{"NoProxiesIgnoresTheHeader", "203.0.113.7:5000", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"UntrustedPeerIgnoresTheHeader", "203.0.113.7:5000", []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"TrustedPeerWithoutHeader", "10.1.2.3:5000", nil, proxies, "10.1.2.3"},
		{"OneProxy", "10.1.2.3:5000", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"RightmostUntrustedWins", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, proxies, "198.51.100.1"},
		{"SeveralHeaderLines", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.1", "10.9.9.9"}, proxies, "198.51.100.1"},
		{"AllTrustedIsTheLeftmost", "10.1.2.3:5000", []string{"10.4.4.4, 10.9.9.9"}, proxies, "10.4.4.4"},
		{"GarbageStopsTheWalk", "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip, 10.9.9.9"}, proxies, "10.9.9.9"},
		{"IPv6WithPortAndMappedV4", "[2001:db8:ffff::1]:443", []string{"[2001:db8:1:2::5]:1234"}, proxies, "2001:db8:1:2::5"},
		{"MappedPeer", "[::ffff:10.1.2.3]:5000", []string{"::ffff:198.51.100.1"}, proxies, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tc.proxies).String(); got != tc.want {
				t.Fatalf("client %s, want %s", got, tc.want)
			}
		})
	}
}

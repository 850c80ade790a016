package web

import "testing"

func TestLocalPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"/admin/2fa":               true,
		"/admin/2fa?q=a#tab-audit": true,
		"/admin/2fa?q=%0d%0a":      true, // encoded: stays a query
		"//evil.example/":          false,
		"/\\evil.example/":         false,
		"/admin\\..\\x":            false,
		"/\t/evil.example":         false,
		"/\n/evil.example":         false,
		"/admin\x00":               false,
		"/admin\u0085":             false, // NEL, a C1 control
		"https://evil.example/":    false,
		"admin/2fa":                false,
		"":                         false,
		"/admin/\xff":              false,
	} {
		got := localPath(p, "/fallback")
		if (got == p) != ok || (!ok && got != "/fallback") {
			t.Errorf("localPath(%q) = %q", p, got)
		}
	}
}

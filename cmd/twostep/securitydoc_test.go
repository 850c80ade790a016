package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityDocNamesRealTests reads SECURITY.md and checks that every
// test and fuzz target it names exists in the package it names, so the
// table cannot point at tests that are gone.
func TestSecurityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	// "pkg: TestName" or "pkg: FuzzName", with more names after commas.
	ref := regexp.MustCompile("`(cmd/twostep|[a-z]+): ((?:Test|Fuzz)\\w+)")
	more := regexp.MustCompile("`((?:Test|Fuzz)\\w+)")
	sources := map[string]string{}
	read := func(pkg string) string {
		if s, ok := sources[pkg]; ok {
			return s
		}
		dir := filepath.Join("../../internal", pkg)
		switch {
		case pkg == "cmd/twostep":
			dir = "."
		case pkg == "api" || pkg == "result": // the public packages, at the root
			dir = filepath.Join("../..", pkg)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		var b strings.Builder
		for _, f := range files {
			src, _ := os.ReadFile(f)
			b.Write(src)
		}
		sources[pkg] = b.String()
		return sources[pkg]
	}
	named := 0
	for _, line := range strings.Split(string(doc), "\n") {
		pkg := ""
		for _, m := range ref.FindAllStringSubmatchIndex(line, -1) {
			pkg = line[m[2]:m[3]]
			name := line[m[4]:m[5]]
			if pkg == "package" {
				continue // the page's own example of the form
			}
			named++
			if !strings.Contains(read(pkg), "func "+name+"(") {
				t.Errorf("SECURITY.md names %s: %s, which does not exist", pkg, name)
			}
			// Names after it in the same cell, like "`FuzzB`", belong to pkg too.
			rest := line[m[1]:]
			if end := strings.IndexAny(rest, "|"); end >= 0 {
				rest = rest[:end]
			}
			for _, mm := range more.FindAllStringSubmatch(rest, -1) {
				if !strings.Contains(read(pkg), "func "+mm[1]+"(") {
					t.Errorf("SECURITY.md names %s: %s, which does not exist", pkg, mm[1])
				}
			}
		}
	}
	if named < 60 {
		t.Fatalf("SECURITY.md names only %d tests", named)
	}
}

// TestToolchainIsTheVettedOne: go.mod's toolchain line, which a plain
// `go build` follows, names the Go release that CI builds, tests and runs
// govulncheck with, so that a build from the README has no known
// standard-library vulnerability either.
func TestToolchainIsTheVettedOne(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	toolchain := regexp.MustCompile(`(?m)^toolchain (go\S+)$`).FindSubmatch(mod)
	vetted := regexp.MustCompile(`(?m)^export GOTOOLCHAIN=(go\S+)$`).FindSubmatch(ci)
	if toolchain == nil || vetted == nil {
		t.Fatalf("go.mod toolchain line %q, .ci/run GOTOOLCHAIN %q: both must be there", toolchain, vetted)
	}
	if string(toolchain[1]) != string(vetted[1]) {
		t.Fatalf("go.mod names %s, CI vets %s", toolchain[1], vetted[1])
	}
}

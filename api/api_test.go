package api_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/storetest"
)

// tool finds an outside program the test runs: the variable's path, or
// the name on the PATH. Without it the test skips (fails in CI, where
// .ci/run installs it).
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		storetest.Skip(t, name+" is not installed (set "+env+" or put it on the PATH; .ci/run installs it)")
	}
	return p
}

// TestOpenAPIPassesSpectral lints the document with Stoplight Spectral's
// OpenAPI ruleset, the linter most API tooling runs: no error and no
// warning.
func TestOpenAPIPassesSpectral(t *testing.T) {
	spectral := tool(t, "TWOSTEP_SPECTRAL", "spectral")
	dir := t.TempDir()
	ruleset := filepath.Join(dir, ".spectral.yaml")
	if err := os.WriteFile(ruleset, []byte("extends: [\"spectral:oas\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(spectral, "lint", "--ruleset", ruleset, "--fail-severity", "warn", "openapi.json")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("spectral lint: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// TestGeneratedClientCompiles generates a Go client (and the types and
// server stubs oapi-codegen makes by default) from the document and
// builds it: what a platform developer would do first.
func TestGeneratedClientCompiles(t *testing.T) {
	codegen := tool(t, "TWOSTEP_OAPI_CODEGEN", "oapi-codegen")
	doc, err := filepath.Abs("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gen := exec.Command(codegen, "-package", "twostepclient", doc)
	src, err := gen.Output()
	if err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, stderrOf(err))
	}
	for name, content := range map[string]string{
		"go.mod":    "module example.com/twostepclient\n\ngo 1.26\n",
		"client.go": string(src),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the generated client: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

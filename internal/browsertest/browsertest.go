// Package browsertest drives Debian's Chromium from Go tests with chromedp:
// it starts a headless browser with a fresh profile, saves screenshots to
// the test artifacts folder, and runs axe-core on the page in front of it.
// Without Chromium (or axe-core) the tests skip, unless every optional
// test is required.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/storetest"
)

// AxeEnv names the variable with the path of axe-core's axe.min.js.
const AxeEnv = "TWOSTEP_AXE"

// ArtifactsEnv names the folder for screenshots (default test-artifacts at
// the repository's root).
const ArtifactsEnv = "TWOSTEP_TEST_ARTIFACTS"

// Browser is one headless Chromium with a fresh profile.
type Browser struct {
	Ctx       context.Context
	t         testing.TB
	axe       string
	artifacts string
	shots     int
}

// chromium finds the browser.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a browser for t, closed when t ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := chromium()
	if bin == "" {
		storetest.Skip(t, "browser tests need Chromium: apt-get install chromium")
	}
	axePath := os.Getenv(AxeEnv)
	if axePath == "" {
		storetest.Skip(t, "browser tests need axe-core: set "+AxeEnv+" to axe.min.js (npm pack axe-core; .ci/run does)")
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("%s: %v", AxeEnv, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	artifacts := os.Getenv(ArtifactsEnv)
	if artifacts == "" {
		artifacts = filepath.Join(repoRoot(), "test-artifacts")
	}
	dir := filepath.Join(artifacts, sanitize(t.Name()))
	os.RemoveAll(dir) // only this run's screenshots, numbered from 1
	os.MkdirAll(dir, 0o755)
	return &Browser{Ctx: ctx, t: t, axe: string(axe), artifacts: dir}
}

// repoRoot is the module's root, where go.mod is.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// Do runs actions in order, failing the test on error; they get 30
// seconds together.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.Screenshot("failure")
		b.t.Fatalf("browser: %v", err)
	}
}

// Get runs one action and returns its value, failing the test on error.
func Get[T any](b *Browser, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.Screenshot("failure")
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// Screenshot saves the whole page as NN-name.png in the artifacts folder.
func (b *Browser) Screenshot(name string) string {
	b.shots++
	path := filepath.Join(b.artifacts, fmt.Sprintf("%02d-%s.png", b.shots, sanitize(name)))
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	os.WriteFile(path, png, 0o644)
	return path
}

// AxeTags are the rules the pages must pass: WCAG 2.0, 2.1 and 2.2 at
// levels A and AA, and axe's best practices.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

// axeResult is what axe.run gives back, in part.
type axeResult struct {
	Violations []struct {
		ID    string `json:"id"`
		Help  string `json:"help"`
		Nodes []struct {
			Target []any  `json:"target"`
			HTML   string `json:"html"`
		} `json:"nodes"`
	} `json:"violations"`
	Passes []json.RawMessage `json:"passes"`
}

// narrowWidth is the width every state must fit without scrolling
// sideways: a phone, or 1280 px at 400 % zoom (WCAG 1.4.10).
const narrowWidth = 320

// Check takes screenshots of the page state at the browser's width and
// at 320 px, runs axe-core on it, and fails the test on any violation of
// AxeTags, on anything that scrolls sideways at 320 px (the page or a
// region in it), and on an error summary link to nothing.
func (b *Browser) Check(state string) {
	b.t.Helper()
	b.Screenshot(state)
	if broken := Eval[[]string](b, `Array.from(document.querySelectorAll(".error-summary a[href^='#']"))
		.filter(a => !document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1))))
		.map(a => a.textContent.trim())`); len(broken) > 0 {
		b.t.Errorf("%s: the error summary links to nothing: %q", state, broken)
	}
	b.checkNarrow(state)
	if !Get(b, chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
		b.Do(chromedp.Evaluate[chromedp.Void](b.axe))
	}
	tags, _ := json.Marshal(AxeTags)
	script := `axe.run(document, {runOnly: {type: "tag", values: ` + string(tags) + `}, resultTypes: ["violations"]}).then(r => JSON.stringify(r))`
	raw := Get(b, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	var res axeResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		b.t.Fatalf("axe on %s: %v", state, err)
	}
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target)+" "+clip(n.HTML, 160))
		}
		b.t.Errorf("axe, %s: %s (%s):\n  %s", state, v.ID, v.Help, strings.Join(where, "\n  "))
	}
}

// checkNarrow looks at the page at 320 px: a screenshot, and whether the
// page or any region in it scrolls sideways. The width is then restored.
func (b *Browser) checkNarrow(state string) {
	b.t.Helper()
	w, h := Eval[int](b, "window.innerWidth"), Eval[int](b, "window.innerHeight")
	b.Do(chromedp.EmulateViewport(narrowWidth, 640))
	wide := Eval[[]string](b, `(function () {
		var out = [];
		if (document.documentElement.scrollWidth > window.innerWidth + 1) { out.push("the page (" + document.documentElement.scrollWidth + " px)"); }
		document.querySelectorAll("body *").forEach(function (el) {
			var cs = getComputedStyle(el);
			if ((cs.overflowX === "auto" || cs.overflowX === "scroll") && el.scrollWidth > el.clientWidth + 1 && el.getClientRects().length) {
				out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "") +
					" (" + el.scrollWidth + " px in " + el.clientWidth + ")");
			}
		});
		return out;
	})()`)
	b.Screenshot(state + "-320px")
	b.Do(chromedp.EmulateViewport(int64(w), int64(h)))
	if len(wide) > 0 {
		b.t.Errorf("%s at %d px scrolls sideways: %s", state, narrowWidth, strings.Join(wide, ", "))
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Text returns the text of the first element matching a CSS selector.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return Get(b, chromedp.Text(chromedp.CSS(sel)))
}

// Eval evaluates a JavaScript expression, which may return a promise.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	return Get(b, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// TryEval evaluates a JavaScript expression and returns its error rather
// than failing the test: for polling a page that may be navigating.
func TryEval[T any](b *Browser, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js))
}

// URL returns the page's address.
func (b *Browser) URL() string {
	b.t.Helper()
	return Get(b, chromedp.Location())
}

// Active describes the focused element, for keyboard tests: its id, its
// aria-label or the start of its text.
func (b *Browser) Active() string {
	b.t.Helper()
	return Eval[string](b, `(function(){var e=document.activeElement; return e ? (e.id || e.getAttribute("aria-label") || e.textContent.trim().slice(0,40)) : ""})()`)
}

// Command vulndbindex turns a directory of Go vulnerability OSV entries
// (the data/osv folder of the golang.org/x/vulndb module, as the Go module
// proxy serves it) into a database in the layout that
// `govulncheck -db file:///path` reads (the "v1" schema of
// https://go.dev/security/vuln/database#api):
//
//	index/db.json       {"modified": "<time>"}
//	index/modules.json  [{"path": "<module>", "vulns": [{"id", "modified", "fixed"}]}]
//	index/vulns.json    [{"id", "modified", "aliases"}]
//	ID/<GO-ID>.json     the OSV entry, byte for byte as in the input
//
// It mirrors golang.org/x/vulndb/internal/database (New, Add, Write), which
// builds the published database. That code takes each entry's modified and
// published times from the git history of data/osv; a module zip has no
// history, so the entries keep the times written in the files, and
// index/db.json gets the time given by -modified (the vulndb commit time)
// when it is later than all of them.
//
// Standard library only, so that it runs with `go run` in this module.
//
//	go run ./internal/tools/vulndbindex -osv DIR/data/osv -out DB -modified 2026-11-05T23:49:57Z
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entry holds the parts of an OSV entry that the index needs.
type entry struct {
	SchemaVersion string     `json:"schema_version"`
	ID            string     `json:"id"`
	Modified      time.Time  `json:"modified"`
	Published     time.Time  `json:"published"`
	Withdrawn     *time.Time `json:"withdrawn,omitempty"`
	Aliases       []string   `json:"aliases,omitempty"`
	Affected      []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges,omitempty"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

// The index types follow golang.org/x/vulndb/internal/database and
// golang.org/x/vuln/internal/client (schema.go).
type dbMeta struct {
	Modified time.Time `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

func main() {
	osvDir := flag.String("osv", "", "directory of OSV files named <ID>.json (data/osv of golang.org/x/vulndb)")
	out := flag.String("out", "", "directory to write the database to; must not exist yet")
	modified := flag.String("modified", "", "RFC 3339 time for index/db.json (e.g. the vulndb commit time); the latest entry time is used when it is later")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("vulndbindex: ")
	if *osvDir == "" || *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	var dbTime time.Time
	if *modified != "" {
		t, err := time.Parse(time.RFC3339, *modified)
		if err != nil {
			log.Fatalf("-modified: %v", err)
		}
		dbTime = t.UTC()
	}
	stats, err := build(*osvDir, *out, dbTime)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d entries (%d withdrawn), %d modules (stdlib: %d entries, toolchain: %d) -> %s",
		stats.entries, stats.withdrawn, stats.modules, stats.stdlib, stats.toolchain, *out)
}

type buildStats struct {
	entries, withdrawn, modules, stdlib, toolchain int
}

func build(osvDir, out string, dbTime time.Time) (buildStats, error) {
	var st buildStats
	if _, err := os.Stat(out); err == nil {
		return st, fmt.Errorf("%s already exists", out)
	}
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return st, err
	}
	if len(files) == 0 {
		return st, fmt.Errorf("no OSV files (*.json) in %s", osvDir)
	}
	sort.Strings(files)

	idDir := filepath.Join(out, "ID")
	indexDir := filepath.Join(out, "index")
	for _, d := range []string{idDir, indexDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return st, err
		}
	}

	db := dbMeta{Modified: dbTime}
	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return st, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return st, fmt.Errorf("%s: %v", f, err)
		}
		if err := check(&e, filepath.Base(f)); err != nil {
			return st, fmt.Errorf("%s: %v", f, err)
		}
		// Written compact, as the published database is; the content is unchanged.
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return st, fmt.Errorf("%s: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(idDir, e.ID+".json"), buf.Bytes(), 0o644); err != nil {
			return st, err
		}

		st.entries++
		if e.Withdrawn != nil {
			st.withdrawn++
		}
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified.UTC()
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified.UTC(), Aliases: e.Aliases})
		// As database.ModulesIndex.add: one row per affected block, so an
		// entry with several blocks for one module has several rows.
		for _, a := range e.Affected {
			path := a.Package.Name
			m := modules[path]
			if m == nil {
				m = &moduleMeta{Path: path, Vulns: []moduleVuln{}}
				modules[path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified.UTC(), Fixed: latestFixed(a.Ranges)})
			switch path {
			case "stdlib":
				st.stdlib++
			case "toolchain":
				st.toolchain++
			}
		}
	}

	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	st.modules = len(mods)
	if st.stdlib == 0 {
		return st, fmt.Errorf("no entry for module stdlib in %s: govulncheck could not check the standard library", osvDir)
	}

	for name, v := range map[string]any{"db.json": db, "modules.json": mods, "vulns.json": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return st, err
		}
		if err := os.WriteFile(filepath.Join(indexDir, name), b, 0o644); err != nil {
			return st, err
		}
	}
	return st, nil
}

// check rejects what govulncheck would misread or what points at a wrong input.
func check(e *entry, file string) error {
	if e.ID == "" {
		return fmt.Errorf("no id")
	}
	if file != e.ID+".json" {
		return fmt.Errorf("file name is not <id>.json for id %q", e.ID)
	}
	if e.SchemaVersion == "" {
		return fmt.Errorf("no schema_version")
	}
	if len(e.Affected) == 0 {
		return fmt.Errorf("no affected modules")
	}
	for _, a := range e.Affected {
		if a.Package.Name == "" {
			return fmt.Errorf("affected package without a name")
		}
		if a.Package.Ecosystem != "Go" {
			return fmt.Errorf("ecosystem %q, want Go", a.Package.Ecosystem)
		}
		for _, r := range a.Ranges {
			for _, ev := range r.Events {
				for _, v := range []string{ev.Introduced, ev.Fixed} {
					if v != "" && v != "0" && r.Type == "SEMVER" && !validSemver(v) {
						return fmt.Errorf("%s: version %q is not semver", a.Package.Name, v)
					}
				}
			}
		}
	}
	return nil
}

// latestFixed is osvutils.LatestFixed of x/vulndb (semver.NonSupersededFix in
// x/vuln): the latest fixed version of the SEMVER ranges, or "" when the
// vulnerability is introduced again after it. govulncheck fetches an entry for
// a module version only when the version is below this (or it is empty).
func latestFixed(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && semverLess(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && semverLess(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

// semverLess reports v < w for OSV versions (semver without the "v"), with the
// ordering of golang.org/x/mod/semver.Compare: an invalid version (and "")
// sorts before every valid one.
func semverLess(v, w string) bool {
	return semverCompare(v, w) < 0
}

type parsed struct {
	major, minor, patch string
	prerelease          string
}

func validSemver(v string) bool {
	_, ok := parseSemver(v)
	return ok
}

func semverCompare(v, w string) int {
	pv, ok1 := parseSemver(v)
	pw, ok2 := parseSemver(w)
	switch {
	case !ok1 && !ok2:
		return 0
	case !ok1:
		return -1
	case !ok2:
		return 1
	}
	if c := compareInt(pv.major, pw.major); c != 0 {
		return c
	}
	if c := compareInt(pv.minor, pw.minor); c != 0 {
		return c
	}
	if c := compareInt(pv.patch, pw.patch); c != 0 {
		return c
	}
	return comparePrerelease(pv.prerelease, pw.prerelease)
}

// parseSemver accepts MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], with an
// optional leading "v", as semver 2.0.0 does (no leading zeros in numbers),
// and the shorthands MAJOR and MAJOR.MINOR as golang.org/x/mod/semver does.
func parseSemver(v string) (parsed, bool) {
	var p parsed
	v = strings.TrimPrefix(v, "v")
	orig := v
	if i := strings.IndexByte(v, '+'); i >= 0 {
		if !dotIdents(v[i+1:], false) {
			return p, false
		}
		v = v[:i]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		p.prerelease = v[i+1:]
		if !dotIdents(p.prerelease, true) {
			return p, false
		}
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 3 && !strings.ContainsAny(orig, "-+") {
		// The shorthands "1" and "1.2" (for 1.0.0 and 1.2.0) that
		// x/mod/semver accepts, when nothing follows them.
		for len(parts) < 3 {
			parts = append(parts, "0")
		}
	}
	if len(parts) != 3 {
		return p, false
	}
	for _, n := range parts {
		if !isNum(n) || (len(n) > 1 && n[0] == '0') {
			return p, false
		}
	}
	p.major, p.minor, p.patch = parts[0], parts[1], parts[2]
	return p, true
}

func dotIdents(s string, noLeadingZero bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if noLeadingZero && isNum(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func isNum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func compareInt(x, y string) int {
	if len(x) != len(y) {
		if len(x) < len(y) {
			return -1
		}
		return 1
	}
	return strings.Compare(x, y)
}

// comparePrerelease orders pre-release strings by semver 2.0.0 rule 11;
// no pre-release sorts after any pre-release.
func comparePrerelease(x, y string) int {
	switch {
	case x == y:
		return 0
	case x == "":
		return 1
	case y == "":
		return -1
	}
	xs, ys := strings.Split(x, "."), strings.Split(y, ".")
	for i := 0; i < len(xs) && i < len(ys); i++ {
		a, b := xs[i], ys[i]
		if a == b {
			continue
		}
		an, bn := isNum(a), isNum(b)
		switch {
		case an && bn:
			return compareInt(a, b)
		case an:
			return -1
		case bn:
			return 1
		}
		return strings.Compare(a, b)
	}
	switch {
	case len(xs) < len(ys):
		return -1
	case len(xs) > len(ys):
		return 1
	}
	return 0
}

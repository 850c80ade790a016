package web

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/twostep/twostep/internal/twostep"
)

// auditFilter reads the audit log's filters from the query string.
func auditFilter(r *http.Request) (twostep.AuditFilter, error) {
	q := r.URL.Query()
	var (
		f   twostep.AuditFilter
		err error
	)
	if a := q.Get("action"); a != "" {
		if f.Action, err = twostep.ParseAction("action", a); err != nil {
			return f, err
		}
	}
	f.UserID = q.Get("user")
	if f.Since, err = queryTime(r, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return f, err
	}
	f.Cursor = q.Get("cursor")
	f.Limit, err = queryInt(r, "limit")
	return f, err
}

func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	events, next, err := s.svc.AuditEvents(r.Context(), c, r.PathValue("company"), f)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = toEventJSON(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_cursor": nextCursor(next)})
	return nil
}

// exportFlushEvery is how many events an export writes between flushes.
const exportFlushEvery = 500

// exportAuditEvents streams every event that matches the filters as CSV or
// JSON Lines.
func (s *Server) exportAuditEvents(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		return twostep.Invalid("format", "format must be csv or jsonl")
	}
	f.Cursor = ""
	return s.streamAudit(w, r, c, r.PathValue("company"), f, format)
}

// streamAudit writes every event that matches f as CSV or JSON Lines, a
// page at a time, so memory stays flat however long the log is. It checks
// access before the first byte, so a refusal is still a proper answer.
func (s *Server) streamAudit(w http.ResponseWriter, r *http.Request, c twostep.Caller, companyID string, f twostep.AuditFilter, format string) error {
	if err := s.svc.CheckAuditAccess(r.Context(), c, companyID, f); err != nil {
		return err
	}
	// An export may take longer than the server's write timeout allows.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})

	name := "audit-" + companyID + "-" + time.Now().UTC().Format("20060102T150405Z") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	buf := bufio.NewWriterSize(w, 32<<10)
	var (
		emit func(twostep.AuditEvent) error
		cw   *csv.Writer
	)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw = csv.NewWriter(buf)
		cw.Write(csvHeader)
		emit = func(e twostep.AuditEvent) error {
			cw.Write(csvRow(e))
			return cw.Error()
		}
	} else {
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		emit = func(e twostep.AuditEvent) error { return enc.Encode(toEventJSON(e)) }
	}
	n := 0
	flush := func() error {
		if cw != nil {
			cw.Flush()
		}
		if err := buf.Flush(); err != nil {
			return err
		}
		return http.NewResponseController(w).Flush()
	}
	err := s.svc.ExportAudit(r.Context(), c, companyID, f, func(e twostep.AuditEvent) error {
		if err := emit(e); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		// The status is sent already; cut the response so the client sees
		// a broken download rather than a short file that looks whole.
		s.log.ErrorContext(r.Context(), "audit export failed", "company", companyID, "events", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// csvHeader names the export's columns: the seed's User, Action and Time
// first, then the detail an auditor needs.
var csvHeader = []string{"Time", "User", "Action", "Description", "Target user", "App", "Field", "From", "To",
	"IP", "User agent", "Actor type", "Actor ID", "Target user ID", "Event ID"}

// csvRow renders one event; every cell is neutralised against formula
// injection.
func csvRow(e twostep.AuditEvent) []string {
	ch := changeOf(e)
	app := ""
	if e.App != "" {
		app = e.App.Title()
	}
	row := []string{
		formatTime(e.Time), e.Actor.Name, string(e.Action), Describe(e), e.TargetName, app,
		ch.Field, jsonText(ch.From), jsonText(ch.To), e.IP, e.UserAgent,
		string(e.Actor.Type), e.Actor.ID, e.TargetID, e.ID,
	}
	for i, cell := range row {
		row[i] = csvSafe(cell)
	}
	return row
}

// jsonText shows a JSON value as plain text: strings without quotes.
func jsonText(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// csvSafe neutralises a cell for spreadsheets (OWASP, "CSV Injection"):
// control characters become spaces, and a cell that starts with = + - @,
// a tab or a carriage return gets a leading apostrophe, so that it is shown
// as text instead of being run as a formula.
func csvSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// activityChart draws the last days of sign-in activity as four small bar
// charts — codes sent, approved, failed (wrong codes) and lockouts — one
// per measure, so no reader depends on telling colours apart. Each chart
// has a text alternative, and a table of every number follows.
func activityChart(days []twostep.DayStats) template.HTML {
	// Each day's figure links to that day's audit log, filtered to the
	// action that records the measure where there is one (sends and
	// approvals are counted, not audited).
	series := []struct {
		name, id  string
		one, many string // the unit, as in "12 codes sent"
		action    twostep.Action
		value     func(twostep.DayStats) int
	}{
		{"Codes sent", "sent", "code sent", "codes sent", "", func(d twostep.DayStats) int { return d.Sent }},
		{"Approved", "approved", "approved sign-in", "approved sign-ins", "", func(d twostep.DayStats) int { return d.Approved }},
		{"Wrong codes", "failed", "wrong code", "wrong codes", twostep.ActionTwoFAFailedAttempts, func(d twostep.DayStats) int { return d.Failed }},
		{"Lockouts", "locked", "lockout", "lockouts", twostep.ActionTwoFALocked, func(d twostep.DayStats) int { return d.Locked }},
	}
	const w, h, gap = 300.0, 60.0, 2.0
	var b strings.Builder
	b.WriteString(`<div class="charts">`)
	for _, s := range series {
		total, peak, peakDay := 0, 0, ""
		for _, d := range days {
			v := s.value(d)
			total += v
			if v > peak {
				peak, peakDay = v, d.Day
			}
		}
		desc := fmt.Sprintf("%d in the last %d days", total, len(days))
		if peak > 0 {
			desc += fmt.Sprintf("; the most, %d, on %s", peak, dayLabel(peakDay))
		}
		fmt.Fprintf(&b, `<figure class="chart"><figcaption class="chart-caption"><span class="chart-name">%s</span> <span class="chart-total">%d</span></figcaption>`,
			template.HTMLEscapeString(s.name), total)
		// A group, not an image: its bars are links, each named by its
		// day and figure, shown on hover and focus.
		fmt.Fprintf(&b, `<svg class="chart-svg" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none" role="group" aria-labelledby="chart-%s-title chart-%s-desc" data-chart>`, w, h, s.id, s.id)
		fmt.Fprintf(&b, `<title id="chart-%s-title">%s, daily</title><desc id="chart-%s-desc">%s</desc>`,
			s.id, template.HTMLEscapeString(s.name), s.id, template.HTMLEscapeString(desc))
		fmt.Fprintf(&b, `<line class="chart-axis" x1="0" y1="%.1f" x2="%.0f" y2="%.1f"/>`, h-0.5, w, h-0.5)
		slot := w / float64(max(len(days), 1))
		bw := slot - gap
		for i, d := range days {
			v := s.value(d)
			if v == 0 {
				continue
			}
			q := url.Values{"since": {d.Day}, "until": {d.Day}}
			if s.action != "" {
				q.Set("action", string(s.action))
			}
			tip := dayLabel(d.Day) + ": " + plural(v, s.one, s.many)
			bh := (h - 4) * float64(v) / float64(max(peak, 1))
			fmt.Fprintf(&b, `<a class="chart-link" href="/admin/2fa/audit?%s" aria-label="%s, the audit log of that day" data-tip="%s">`,
				template.HTMLEscapeString(q.Encode()), template.HTMLEscapeString(tip), template.HTMLEscapeString(tip))
			fmt.Fprintf(&b, `<rect class="chart-hit" x="%.1f" y="0" width="%.1f" height="%.0f"/>`, float64(i)*slot, slot, h)
			fmt.Fprintf(&b, `<rect class="chart-bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></a>`,
				float64(i)*slot+gap/2, h-bh, bw, bh)
		}
		b.WriteString(`</svg><p class="chart-tip" aria-hidden="true" hidden></p></figure>`)
	}
	b.WriteString(`</div>`)

	b.WriteString(`<details class="details"><summary class="details-summary">Show the numbers</summary><div class="table-wrap" role="region" aria-label="Daily sign-in activity" tabindex="0"><table class="table table-compact table-stack"><caption class="visually-hidden">Daily sign-in activity</caption><thead><tr><th scope="col">Day</th>`)
	for _, s := range series {
		fmt.Fprintf(&b, `<th scope="col" class="numeric">%s</th>`, template.HTMLEscapeString(s.name))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i := len(days) - 1; i >= 0; i-- {
		d := days[i]
		fmt.Fprintf(&b, `<tr><th scope="row">%s</th>`, dayLabel(d.Day))
		for _, s := range series {
			fmt.Fprintf(&b, `<td class="numeric" data-label="%s">%d</td>`, template.HTMLEscapeString(s.name), s.value(d))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table></div></details>`)
	return template.HTML(b.String())
}

// dayLabel shows a YYYY-MM-DD day as "27 Nov".
func dayLabel(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return t.Format("2 Jan")
}

package web

import (
	"context"
	"net/http"
	"time"

	"github.com/hotline12345/hotline/report"
)

// Reports builds the reports GET /api/v1/reports serves (*report.Live).
type Reports interface {
	// Report returns the figures of the days from to to (included), by period
	// (day, week or month).
	Report(ctx context.Context, from, to time.Time, period string) (*report.Report, error)
	// Location is the time zone the days are in.
	Location() *time.Location
}

// reportsHandler serves GET /api/v1/reports?from=YYYY-MM-DD&to=YYYY-MM-DD&period=day|week|month&format=json|csv|html
// to supervisors. from defaults to today, to to from. Mount it behind requireAuth.
func reportsHandler(rep Reports) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sess, _ := SessionFrom(r.Context()); sess.Role != RoleSupervisor {
			writeError(w, http.StatusForbidden, "forbidden", "reports are for supervisors")
			return
		}
		q := r.URL.Query()
		loc := rep.Location()
		fromS, toS := q.Get("from"), q.Get("to")
		if fromS == "" {
			fromS = time.Now().In(loc).Format(time.DateOnly)
		}
		if toS == "" {
			toS = fromS
		}
		from, err := report.ParseDay(fromS, loc)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_date", "from: "+err.Error())
			return
		}
		to, err := report.ParseDay(toS, loc)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_date", "to: "+err.Error())
			return
		}
		if to.Sub(from) > 366*24*time.Hour {
			writeError(w, http.StatusBadRequest, "range_too_long", "a report covers at most 366 days")
			return
		}
		format := q.Get("format")
		switch format {
		case "", "json", "csv", "html":
		default:
			writeError(w, http.StatusBadRequest, "bad_format", "format must be json, csv or html")
			return
		}
		rp, err := rep.Report(r.Context(), from, to, q.Get("period"))
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_report", err.Error())
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		name := "hotline-report-" + rp.From + "-" + rp.To
		switch format {
		case "csv":
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
			_ = report.WriteCSV(w, rp)
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
			_ = report.WriteHTML(w, rp)
		default:
			writeJSON(w, http.StatusOK, rp)
		}
	}
}

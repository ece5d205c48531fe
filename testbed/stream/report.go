package stream

import (
	"encoding/json"
	"fmt"
	"io"
)

// ReportSchema is the version of the JSON a Report writes, bumped only if a
// key changes meaning or goes away.
const ReportSchema = 1

// Report is what a scenario publishes: its own description and one Result
// per system measured.
//
// JSON keys: "schema" (ReportSchema), "title", "scenario" (the caller's
// metadata, written as given), "results" (see Result for their keys).
type Report struct {
	Title    string   `json:"title,omitempty"`
	Scenario any      `json:"scenario,omitempty"`
	Results  []Result `json:"results"`
}

// WriteJSON writes the report as one line of compact JSON (a 60 s run of
// three systems is ≈150 kB; pipe it through jq to read it).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	err := enc.Encode(struct {
		Schema int `json:"schema"`
		Report
	}{ReportSchema, r})
	if err != nil {
		return fmt.Errorf("write report JSON: %w", err)
	}
	return nil
}

// WriteSVG draws the report's results as an SVG plot (see WriteSVG).
func (r Report) WriteSVG(w io.Writer) error {
	return WriteSVG(w, r.Title, r.Results)
}

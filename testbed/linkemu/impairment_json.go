package linkemu

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("20ms") and also reads a number as nanoseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "20ms".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	switch v := v.(type) {
	case float64:
		*d = Duration(v)
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(p)
	default:
		return fmt.Errorf("duration: want a string like \"20ms\" or nanoseconds, have %s", b)
	}
	return nil
}

// impairmentJSON mirrors Impairment with durations as strings.
type impairmentJSON struct {
	Delay      Duration        `json:"delay"`
	Jitter     Duration        `json:"jitter"`
	Reorder    bool            `json:"reorder,omitempty"`
	Loss       float64         `json:"loss"`
	GE         *GilbertElliott `json:"ge,omitempty"`
	RateBps    int64           `json:"rate_bps,omitempty"`
	QueueLimit Duration        `json:"queue_limit,omitempty"`
	Outages    []Outage        `json:"outages,omitempty"`
}

// MarshalJSON writes durations as strings such as "20ms".
func (imp Impairment) MarshalJSON() ([]byte, error) {
	return json.Marshal(impairmentJSON{
		Delay: Duration(imp.Delay), Jitter: Duration(imp.Jitter), Reorder: imp.Reorder,
		Loss: imp.Loss, GE: imp.GE, RateBps: imp.RateBps,
		QueueLimit: Duration(imp.QueueLimit), Outages: imp.Outages,
	})
}

// UnmarshalJSON reads durations as strings or nanoseconds.
func (imp *Impairment) UnmarshalJSON(b []byte) error {
	var j impairmentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*imp = Impairment{
		Delay: time.Duration(j.Delay), Jitter: time.Duration(j.Jitter), Reorder: j.Reorder,
		Loss: j.Loss, GE: j.GE, RateBps: j.RateBps,
		QueueLimit: time.Duration(j.QueueLimit), Outages: j.Outages,
	}
	return nil
}

type outageJSON struct {
	From  Duration `json:"from"`
	To    Duration `json:"to"`
	Every Duration `json:"every,omitempty"`
}

// MarshalJSON writes durations as strings such as "1s".
func (o Outage) MarshalJSON() ([]byte, error) {
	return json.Marshal(outageJSON{Duration(o.From), Duration(o.To), Duration(o.Every)})
}

// UnmarshalJSON reads durations as strings or nanoseconds.
func (o *Outage) UnmarshalJSON(b []byte) error {
	var j outageJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*o = Outage{time.Duration(j.From), time.Duration(j.To), time.Duration(j.Every)}
	return nil
}

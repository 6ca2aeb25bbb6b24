package sqlstore

import (
	"encoding/json"
	"strconv"
	"time"
)

func itoa(i int) string { return strconv.Itoa(i) }

// list encodes a string list as a JSON array ("[]" for nil).
func list(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// listScan scans a JSON array column into a []string; NULL (an outer join
// that matched no row) scans as a nil slice.
type listScan struct{ dst *[]string }

func (l listScan) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		*l.dst = nil
		return nil
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		b, err := json.Marshal(v) // pgx may hand jsonb as decoded values
		if err != nil {
			return err
		}
		raw = b
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	*l.dst = out
	return nil
}

// jsonText returns raw as JSON text, "{}" when empty.
func jsonText(raw json.RawMessage, empty string) string {
	if len(raw) == 0 {
		return empty
	}
	return string(raw)
}

// optTS normalises an optional time.
func optTS(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

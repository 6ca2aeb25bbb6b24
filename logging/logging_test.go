package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestDebugAreas(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info", "json", []string{"login"})
	log.Debug("root debug")
	Area(log, "storage").Debug("storage debug")
	Area(log, "login").Debug("login debug")
	Area(log, "storage").Info("storage info")
	out := buf.String()
	for _, want := range []string{"login debug", "storage info"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
	for _, not := range []string{"root debug", "storage debug"} {
		if strings.Contains(out, not) {
			t.Errorf("unexpected %q in %s", not, out)
		}
	}
	buf.Reset()
	all := New(&buf, "warn", "text", []string{"*"})
	Area(all, "provider").Debug("provider debug")
	all.Info("plain info")
	if !strings.Contains(buf.String(), "provider debug") || strings.Contains(buf.String(), "plain info") {
		t.Errorf("* areas: %s", buf.String())
	}
}

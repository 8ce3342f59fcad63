package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
)

// The log file holds a line at once without buffering; with it (an interval
// the test never reaches), only once the log is closed, and then every line.
func TestNewLoggerFlushesOnClose(t *testing.T) {
	for _, tc := range []struct {
		name          string
		flush         time.Duration
		format        string
		wantBeforeEnd bool
	}{
		{"unbuffered", 0, "json", true},
		{"buffered", time.Hour, "json", false},
		{"buffered console", time.Hour, "console", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := conf.Default()
			cfg.Log.File = filepath.Join(t.TempDir(), "econe-server.log")
			cfg.Log.FlushInterval = conf.Duration(tc.flush)
			cfg.Log.Format = tc.format
			log, closeLog, err := newLogger(cfg, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			log.Info().Msg("first")
			log.Error().Msg("second")
			raw, _ := os.ReadFile(cfg.Log.File)
			if got := strings.Contains(string(raw), "second"); got != tc.wantBeforeEnd {
				t.Errorf("got the last line in the file before close = %v, want %v:\n%s", got, tc.wantBeforeEnd, raw)
			}
			closeLog()
			raw, _ = os.ReadFile(cfg.Log.File)
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], "first") || !strings.Contains(lines[1], "second") {
				t.Errorf("got %q after close, want the two lines in order", lines)
			}
		})
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// A row is one scenario's line from compare.sh:
// "SCENARIO<TAB>key=value key=value…<TAB>NOTE", keys among columns' keys.
type column struct{ key, title string }

var columns = []column{
	{"econe_rps", "econe req/s"},
	{"p50_ms", "p50 ms"},
	{"p99_ms", "p99 ms"},
	{"err", "errors"},
	{"limitsrv_rps", "limitsrv req/s"},
	{"moto_rps", "moto req/s"},
	{"vs_limitsrv", "econe/limitsrv"},
	{"vs_moto", "econe/moto"},
	{"cpu_us", "econe CPU µs/req"},
	{"rss_mb", "econe RSS MB"},
}

type row struct {
	Scenario string             `json:"scenario"`
	Values   map[string]float64 `json:"values"`
	Note     string             `json:"note,omitempty"`
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "the rows")
	jsonOut := fs.String("json", "", "JSON file to write")
	mdOut := fs.String("md", "", "markdown file to write")
	title := fs.String("title", "", "a line above the markdown table (the command, the date)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readRows(f)
	if err != nil {
		return err
	}
	writeText(os.Stdout, rows)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *mdOut != "" {
		var b strings.Builder
		if *title != "" {
			fmt.Fprintf(&b, "%s\n\n", *title)
		}
		writeMarkdown(&b, rows)
		return os.WriteFile(*mdOut, []byte(b.String()), 0o644)
	}
	return nil
}

func readRows(r io.Reader) ([]row, error) {
	var rows []row
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if len(parts) < 2 {
			return nil, fmt.Errorf("line %d: want SCENARIO<TAB>key=value…[<TAB>NOTE]", n)
		}
		rw := row{Scenario: parts[0], Values: map[string]float64{}}
		if len(parts) == 3 {
			rw.Note = parts[2]
		}
		for _, kv := range strings.Fields(parts[1]) {
			k, v, _ := strings.Cut(kv, "=")
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue // a value the run could not measure stays empty
			}
			rw.Values[k] = x
		}
		ratio(rw.Values, "vs_limitsrv", "limitsrv_rps")
		ratio(rw.Values, "vs_moto", "moto_rps")
		rows = append(rows, rw)
	}
	return rows, sc.Err()
}

func ratio(v map[string]float64, key, peer string) {
	if e, p := v["econe_rps"], v[peer]; e > 0 && p > 0 {
		v[key] = e / p
	}
}

func cell(rw row, key string) string {
	v, ok := rw.Values[key]
	switch {
	case !ok:
		return ""
	case key == "vs_limitsrv":
		return fmt.Sprintf("%.0f %%", 100*v)
	case key == "vs_moto":
		return fmt.Sprintf("%.0f ×", v)
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func writeText(w io.Writer, rows []row) {
	widths := []int{len("scenario")}
	for _, c := range columns {
		widths = append(widths, len(c.title))
	}
	cells := make([][]string, len(rows))
	for i, rw := range rows {
		cells[i] = []string{rw.Scenario}
		for _, c := range columns {
			cells[i] = append(cells[i], cell(rw, c.key))
		}
		for j, s := range cells[i] {
			widths[j] = max(widths[j], len([]rune(s)))
		}
	}
	line := func(vals []string, note string) {
		for j, s := range vals {
			fmt.Fprintf(w, "%-*s  ", widths[j], s)
		}
		fmt.Fprintln(w, note)
	}
	head := []string{"scenario"}
	for _, c := range columns {
		head = append(head, c.title)
	}
	line(head, "note")
	for i, rw := range rows {
		line(cells[i], rw.Note)
	}
}

func writeMarkdown(w io.Writer, rows []row) {
	fmt.Fprint(w, "| scenario |")
	for _, c := range columns {
		fmt.Fprintf(w, " %s |", c.title)
	}
	fmt.Fprint(w, " note |\n|---|")
	for range columns {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprint(w, "---|\n")
	for _, rw := range rows {
		fmt.Fprintf(w, "| %s |", rw.Scenario)
		for _, c := range columns {
			fmt.Fprintf(w, " %s |", cell(rw, c.key))
		}
		fmt.Fprintf(w, " %s |\n", rw.Note)
	}
}

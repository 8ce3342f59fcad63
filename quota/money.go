package quota

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Money is an amount in millionths of the currency unit the templates'
// price_per_hour is written in: exact for sums of per-second costs, where
// a float would drift.
type Money int64

// microUnits is Money's scale.
const microUnits = 1_000_000

// maxMoney keeps amounts well inside int64 after sums (a billion units).
const maxMoney = Money(1_000_000_000 * microUnits)

// ParseMoney reads a non-negative decimal amount such as "12", "12.50" or
// "0.0125" (at most six decimals).
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || len(frac) > 6 {
		return 0, fmt.Errorf("invalid amount %q: write a number such as 12.50, with at most 6 decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || Money(w) > maxMoney/microUnits {
		return 0, fmt.Errorf("invalid amount %q: at most %d", s, maxMoney/microUnits)
	}
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return Money(w)*microUnits + Money(f), nil
}

// String writes the amount with at least two decimals: "12.50", "0.0125".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", m%microUnits), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, m/microUnits, frac)
}

// MarshalText writes String, so stored and printed amounts read as money.
func (m Money) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads what ParseMoney does.
func (m *Money) UnmarshalText(b []byte) error {
	v, err := ParseMoney(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// UnmarshalYAML reads the amount from its text, never through a float.
// Errors are *yaml.TypeError in the decoder's own wording, so the config
// loader keeps going and reports them with their key path.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseMoney(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s `%s` into quota.Money", n.Line, n.ShortTag(), n.Value)}}
	}
	*m = v
	return nil
}

package admin

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// A term: 500 students (in 5 groups with a budget), each with an m1.small
// and a t3.micro started and stopped twice a day for 15 weeks (the small
// one prices stopped time too, so the nights are intervals as well):
// 500 × 105 days × 3 intervals = 157,500 intervals.
const (
	termStudents = 500
	termDays     = 15 * 7
)

func buildTerm(b *testing.B) *Users {
	b.Helper()
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "econe.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg := conf.Default()
	cfg.Groups = map[string]conf.Group{}
	budget := quota.Money(50_000_000)
	for g := range 5 {
		grp := cfg.Groups[fmt.Sprintf("g%d", g)]
		grp.Limits.Budget = &budget
		cfg.Groups[fmt.Sprintf("g%d", g)] = grp
	}
	start := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	for s := range termStudents {
		name := fmt.Sprintf("s%03d", s)
		err := st.Update(func(tx store.Tx) error {
			if err := store.PutUser(tx, &store.User{Name: name, Group: fmt.Sprintf("g%d", s%5), AccessKeyID: "AKIA" + name}); err != nil {
				return err
			}
			small := usage.Interval{Owner: name, InstanceID: "i-small", InstanceType: "m1.small", VCPUs: 1, MicrosPerHour: 44000, MinSeconds: 60}
			micro := usage.Interval{Owner: name, InstanceID: "i-micro", InstanceType: "t3.micro", VCPUs: 2, MicrosPerHour: 10400}
			for d := range termDays {
				day := start.AddDate(0, 0, d)
				for _, iv := range []struct {
					iv       usage.Interval
					kind     string
					from, to time.Duration
				}{
					{small, usage.Running, 9 * time.Hour, 11*time.Hour + time.Duration(s)*time.Second},
					{small, usage.Stopped, 11*time.Hour + time.Duration(s)*time.Second, 33 * time.Hour},
					{micro, usage.Running, 14 * time.Hour, 17 * time.Hour},
				} {
					iv.iv.Kind, iv.iv.Start = iv.kind, day.Add(iv.from)
					if iv.kind == usage.Stopped {
						iv.iv.MicrosPerHour, iv.iv.MinSeconds = 1000, 0
					}
					if err := usage.Open(tx, iv.iv); err != nil {
						return err
					}
					if err := usage.Close(tx, name, iv.iv.InstanceID, day.Add(iv.to)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	end := start.AddDate(0, 0, termDays+1)
	return &Users{Store: st, Config: cfg, Clock: func() time.Time { return end }}
}

// BenchmarkUsageTerm is `econe-server usage --by week` over a whole term
// (everyone, every row); the target is under 2 s an operation.
//
//	go test -run '^$' -bench BenchmarkUsageTerm -benchtime 5x ./admin
func BenchmarkUsageTerm(b *testing.B) {
	u := buildTerm(b)
	for _, c := range []struct {
		name string
		q    UsageQuery
	}{
		{"everyone by week", UsageQuery{By: usage.Week}},
		{"everyone by day", UsageQuery{By: usage.Day}},
		{"one group", UsageQuery{Group: "g3"}},
		{"one student", UsageQuery{User: "s123"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rep, err := u.Usage(c.q)
				if err != nil {
					b.Fatal(err)
				}
				if c.q.User == "" && c.q.Group == "" && len(rep.Students) != termStudents {
					b.Fatalf("got %d students, want %d", len(rep.Students), termStudents)
				}
			}
		})
	}
}

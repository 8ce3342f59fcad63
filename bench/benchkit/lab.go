package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/econetest"
)

// labStats gathers what the students saw; one mutex, a few thousand samples.
type labStats struct {
	mu                   sync.Mutex
	launchMs, pollMs     []float64
	runningAfterS        []float64 // from a launch's answer to the poll that saw it running
	launchErr, pollErr   int
	launched, notRunning int
	errs                 map[string]int
}

func (s *labStats) fail(what string, err error, n *int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*n++
	code := "other"
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	} else if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	s.errs[what+":"+code]++
}

func (s *labStats) add(dst *[]float64, v float64) {
	s.mu.Lock()
	*dst = append(*dst, v)
	s.mu.Unlock()
}

// lab runs the start of a lab: each student launches -launches instances of
// one at random moments within -within, then polls DescribeInstances of
// them every -poll until all are running or -timeout has passed.
func lab(args []string) error {
	var launches *int
	var within, poll *time.Duration
	var ami *string
	cmd, err := parseStudents("lab", args, 60*time.Second, func(fs *flag.FlagSet) {
		launches = fs.Int("launches", 2, "instances each student launches (one RunInstances each)")
		within = fs.Duration("within", 5*time.Second, "the window the launches fall in")
		poll = fs.Duration("poll", time.Second, "how often a student polls")
		ami = fs.String("ami", "ami-12c6146b", "ImageId")
	})
	if err != nil {
		return err
	}
	keys := cmd.keys
	ctx, cancel := context.WithTimeout(context.Background(), cmd.timeout)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(keys)}, Timeout: 10 * time.Second}
	st := &labStats{errs: map[string]int{}}
	start := time.Now()
	var wg sync.WaitGroup
	for i, kp := range keys {
		cl := studentClient(cmd.endpoint, kp, hc)
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		wg.Go(func() { student(ctx, cl, rng, start, *launches, *within, *poll, *ami, st) })
	}
	wg.Wait()
	fmt.Printf("METRIC students=%d launched=%d launch_err=%d launch_p50_ms=%.2f launch_p99_ms=%.2f polls=%d poll_err=%d poll_p50_ms=%.2f poll_p99_ms=%.2f running_max_s=%.2f not_running=%d lab_s=%.1f errors=%s\n",
		len(keys), st.launched, st.launchErr, pct(st.launchMs, 50), pct(st.launchMs, 99), len(st.pollMs), st.pollErr,
		pct(st.pollMs, 50), pct(st.pollMs, 99), pct(st.runningAfterS, 100), st.notRunning, time.Since(start).Seconds(), errSummary(st.errs))
	return nil
}

// students is what the commands run by every student (lab, settle) are
// given: the endpoint, the students' keys and the whole run's limit.
type students struct {
	endpoint string
	keys     [][2]string
	timeout  time.Duration
}

// parseStudents parses a command's flags, -endpoint, -keys and -timeout
// (default timeout) and those more adds, and reads the keys.
func parseStudents(name string, args []string, timeout time.Duration, more func(*flag.FlagSet)) (*students, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cmd students
	fs.StringVar(&cmd.endpoint, "endpoint", "", "endpoint URL")
	keysFile := fs.String("keys", "", "file of 'ACCESS_KEY SECRET' lines, one student each")
	fs.DurationVar(&cmd.timeout, "timeout", timeout, "the whole run's limit")
	more(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	cmd.keys, err = readKeys(*keysFile)
	return &cmd, err
}

// studentClient is an EC2 client of the student kp, without retries.
func studentClient(endpoint string, kp [2]string, hc *http.Client) *ec2.Client {
	return ec2.New(ec2.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(kp[0], kp[1], ""),
		// The SDK's closed-connection bug hits answers over 4 KB (a
		// student's instances with their interfaces): econetest's workaround.
		HTTPClient: econetest.SDKHTTPClient(hc),
		Retryer:    aws.NopRetryer{},
	})
}

// student launches at its offsets and, from its first launch's answer on,
// polls once every poll the instances it has, as a student watching the
// console would, until all are running.
func student(ctx context.Context, cl *ec2.Client, rng *rand.Rand, start time.Time, launches int, within, poll time.Duration, ami string, st *labStats) {
	offsets := make([]time.Duration, launches)
	for j := range offsets {
		offsets[j] = time.Duration(rng.Int64N(int64(within)))
	}
	slices.Sort(offsets)
	answered := map[string]time.Time{} // instance id → when its launch was answered
	var ids []string
	var nextPoll time.Time // zero until the first launch is answered
	for len(offsets) > 0 || len(answered) > 0 {
		launch := len(offsets) > 0 && (nextPoll.IsZero() || start.Add(offsets[0]).Before(nextPoll))
		if launch {
			if !sleepUntil(ctx, start.Add(offsets[0])) {
				break
			}
			offsets = offsets[1:]
			t0 := time.Now()
			out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			if err != nil {
				st.fail("RunInstances", err, &st.launchErr)
				continue
			}
			now := time.Now()
			st.add(&st.launchMs, float64(now.Sub(t0).Microseconds())/1e3)
			for _, in := range out.Instances {
				answered[*in.InstanceId] = now
				ids = append(ids, *in.InstanceId)
			}
			if nextPoll.IsZero() {
				nextPoll = now.Add(poll)
			}
			continue
		}
		if nextPoll.IsZero() { // every launch failed
			break
		}
		if !sleepUntil(ctx, nextPoll) {
			break
		}
		nextPoll = nextPoll.Add(poll)
		t0 := time.Now()
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			st.fail("DescribeInstances", err, &st.pollErr)
			continue
		}
		seen := time.Now()
		st.add(&st.pollMs, float64(seen.Sub(t0).Microseconds())/1e3)
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if t, ok := answered[*in.InstanceId]; ok && in.State != nil && in.State.Name == types.InstanceStateNameRunning {
					st.add(&st.runningAfterS, seen.Sub(t).Seconds())
					delete(answered, *in.InstanceId)
				}
			}
		}
	}
	st.mu.Lock()
	st.launched += len(ids)
	st.notRunning += len(answered) + len(offsets)
	st.mu.Unlock()
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pct is the p-th percentile (nearest rank) of v, 0 when v is empty.
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func errSummary(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	var parts []string
	for k, n := range errs {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// readKeys reads 'ACCESS_KEY SECRET' lines (space, tab or comma separated).
func readKeys(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.FieldsFunc(sc.Text(), func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if len(fields) >= 2 {
			keys = append(keys, [2]string{fields[0], fields[1]})
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no keys", path)
	}
	return keys, sc.Err()
}

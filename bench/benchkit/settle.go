package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// settle has every student describe all of their instances once, page by
// page, -c students at a time, as students glancing at the console would.
// A describe records what it finds changed (a boot that has finished), so
// afterwards describes only read: compare.sh measures the store's size
// that way, not the catch-up of writes after a burst of launches.
func settle(args []string) error {
	var conc, page *int
	cmd, err := parseStudents("settle", args, 5*time.Minute, func(fs *flag.FlagSet) {
		conc = fs.Int("c", 8, "students describing at once")
		page = fs.Int("page", 50, "MaxResults of each page")
	})
	if err != nil {
		return err
	}
	keys := cmd.keys
	ctx, cancel := context.WithTimeout(context.Background(), cmd.timeout)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}, Timeout: 30 * time.Second}
	start := time.Now()
	var instances, failed atomic.Int64
	todo := make(chan [2]string)
	var wg sync.WaitGroup
	for range *conc {
		wg.Go(func() {
			for kp := range todo {
				n, err := describeAll(ctx, studentClient(cmd.endpoint, kp, hc), int32(*page))
				instances.Add(int64(n))
				if err != nil {
					failed.Add(1)
					fmt.Printf("settle %s: %v\n", kp[0], err)
				}
			}
		})
	}
	for _, kp := range keys {
		todo <- kp
	}
	close(todo)
	wg.Wait()
	fmt.Printf("METRIC students=%d instances=%d err=%d settle_s=%.1f\n", len(keys), instances.Load(), failed.Load(), time.Since(start).Seconds())
	if failed.Load() > 0 {
		return fmt.Errorf("%d students' describes failed", failed.Load())
	}
	return nil
}

// describeAll reads every page of the client's instances and counts them.
func describeAll(ctx context.Context, cl *ec2.Client, page int32) (int, error) {
	n := 0
	p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(page)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
	}
	return n, nil
}

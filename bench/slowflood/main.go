// Command slowflood opens many connections to a loopback HTTP server, each
// sending a POST's headers and then its body one byte at a time, and
// reopens a connection the server cuts. It measures what the server does
// with slow bodies (bench/flood.sh); it refuses any address outside
// loopback and stops by itself after -d.
//
//	slowflood -target 127.0.0.1:5600 -from 127.0.0.2 -n 1000 -every 10s -d 40s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("target", "127.0.0.1:4567", "server host:port (loopback only)")
	from := flag.String("from", "127.0.0.2", "loopback source address of the flood")
	n := flag.Int("n", 1000, "connections kept open (at most 5000)")
	every := flag.Duration("every", 10*time.Second, "interval between body bytes")
	d := flag.Duration("d", 40*time.Second, "how long the flood lasts (at most 10m)")
	redial := flag.Duration("redial", time.Second, "pause before reopening a connection the server ended")
	flag.Parse()
	if err := run(*target, *from, *n, *every, *d, *redial); err != nil {
		fmt.Fprintln(os.Stderr, "slowflood:", err)
		os.Exit(2)
	}
}

// counts are the flood's outcomes so far.
type counts struct {
	open, opened, dialErrs, refused atomic.Int64
	mu                              sync.Mutex
	answers                         map[int]int64 // HTTP status of the server's answers
}

func run(target, from string, n int, every, d, redial time.Duration) error {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return err
	}
	for _, a := range []string{host, from} {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address", a)
		}
	}
	if n < 1 || n > 5000 || d <= 0 || d > 10*time.Minute || every <= 0 {
		return errors.New("need 1 <= -n <= 5000, 0 < -d <= 10m, -every > 0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c := &counts{answers: map[int]int64{}}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c.once(ctx, dialer, target, every)
				select {
				case <-ctx.Done():
				case <-time.After(redial):
				}
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-tick.C:
			c.report(fmt.Sprintf("t=%.0fs", time.Since(start).Seconds()))
		case <-done:
			c.report("end")
			return nil
		}
	}
}

// once runs one slow request until the server ends it or the flood does.
func (c *counts) once(ctx context.Context, dialer *net.Dialer, target string, every time.Duration) {
	conn, err := dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		if ctx.Err() == nil {
			c.dialErrs.Add(1)
		}
		return
	}
	defer conn.Close()
	c.opened.Add(1)
	c.open.Add(1)
	defer c.open.Add(-1)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	ended := make(chan struct{})
	go func() {
		defer close(ended)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.refused.Add(1) // closed without an answer
			return
		}
		io.Copy(io.Discard, resp.Body)
		c.mu.Lock()
		c.answers[resp.StatusCode]++
		c.mu.Unlock()
	}()
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n", target)
	if _, err := io.WriteString(conn, head); err != nil {
		<-ended
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
write:
	for {
		if _, err := conn.Write([]byte("A")); err != nil {
			break
		}
		select {
		case <-tick.C:
		case <-ended:
			break write
		}
	}
	conn.Close()
	<-ended
}

func (c *counts) report(when string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Printf("FLOOD %s open=%d opened=%d closed_unanswered=%d dial_errors=%d answers=%v\n",
		when, c.open.Load(), c.opened.Load(), c.refused.Load(), c.dialErrs.Load(), c.answers)
}

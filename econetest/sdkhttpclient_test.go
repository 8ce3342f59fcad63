package econetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// TestSDKHTTPClient is the minimal reproduction of the SDK's failure on
// large answers: a plain net/http server (no econe) serving a fixed
// 100-reservation DescribeInstances answer with econe's headers, read by
// the SDK's EC2 client. lateWriter makes the losing order of the race
// certain: net/http's writer goroutine makes its last read of the request
// body only after the SDK has closed it.
func TestSDKHTTPClient(t *testing.T) {
	answer := describeInstancesAnswer(100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.Header().Set("X-Amzn-Requestid", "req-1")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)

	cases := []struct {
		name         string
		client       func(aws.HTTPClient) aws.HTTPClient
		wantWriteErr bool
	}{
		// If this case fails, the SDK no longer fails the request write:
		// SDKHTTPClient and the README's client note may be unnecessary.
		{"sdk as shipped", func(c aws.HTTPClient) aws.HTTPClient { return c }, true},
		{"behind SDKHTTPClient", SDKHTTPClient, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			late := newLateWriter(t)
			c := ec2.New(ec2.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(srv.URL),
				Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
				Retryer:      aws.NopRetryer{},
				HTTPClient:   tc.client(late),
			})
			out, err := c.DescribeInstances(Context(t), &ec2.DescribeInstancesInput{})
			writeErr := late.writeErr()
			if (writeErr != nil) != tc.wantWriteErr {
				t.Fatalf("request write error: got %v, want error: %v", writeErr, tc.wantWriteErr)
			}
			if tc.wantWriteErr {
				if err == nil || !strings.Contains(err.Error(), "use of closed network connection") {
					t.Fatalf("DescribeInstances: got %v, want use of closed network connection", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DescribeInstances: got %v, want success", err)
			}
			if got := len(out.Reservations); got != 100 {
				t.Errorf("reservations: got %d, want 100", got)
			}
		})
	}
}

// describeInstancesAnswer is a DescribeInstances answer of n reservations
// of one instance each, about 1 KB per reservation: 100 make an answer far
// larger than net/http's 4 KB read buffer, as 100 instances do on econe.
func describeInstancesAnswer(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId><reservationSet>`)
	for i := range n {
		fmt.Fprintf(&b, `<item><reservationId>r-%017x</reservationId><ownerId>123456789012</ownerId><instancesSet><item>`+
			`<instanceId>i-%017x</instanceId><imageId>ami-0a1b2c3d4e5f60001</imageId><instanceState><code>16</code><name>running</name></instanceState>`+
			`<tagSet><item><key>note</key><value>%s</value></item></tagSet></item></instancesSet></item>`, i, i, strings.Repeat("x", 700))
	}
	b.WriteString(`</reservationSet></DescribeInstancesResponse>`)
	return []byte(b.String())
}

// lateWriter is an HTTP client that holds net/http's last read of the
// request body (the one after Content-Length bytes, through WriteTo when
// the body has it) until the SDK starts reading the response, which it
// does after closing the request body. It then waits for net/http's
// verdict on the request write (and, when it failed, for net/http to
// close the connection) before the response is read.
type lateWriter struct {
	next   *http.Client
	closed chan struct{} // closed when the client's connection is
	mu     sync.Mutex
	err    error
}

func newLateWriter(t *testing.T) *lateWriter {
	l := &lateWriter{closed: make(chan struct{})}
	var dialer net.Dialer
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &notifyClose{Conn: c, closed: l.closed}, nil
	}}
	t.Cleanup(transport.CloseIdleConnections)
	l.next = &http.Client{Transport: transport}
	return l
}

// notifyClose is a connection that closes its channel when it is closed.
type notifyClose struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *notifyClose) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (l *lateWriter) writeErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *lateWriter) Do(r *http.Request) (*http.Response, error) {
	release := make(chan struct{})
	wrote := make(chan error, 1)
	r = r.Clone(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { wrote <- i.Err },
	}))
	g := &gatedBody{body: r.Body, left: r.ContentLength, release: release}
	if _, ok := r.Body.(io.WriterTo); ok {
		r.Body = gatedWriterTo{g}
	} else {
		r.Body = g
	}
	resp, err := l.next.Do(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &afterWrite{ReadCloser: resp.Body, start: func() {
		close(release)
		err := <-wrote
		if err != nil {
			<-l.closed
		}
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	}}
	return resp, nil
}

// gatedBody passes the first left bytes through and holds any later read
// until release is closed.
type gatedBody struct {
	body    io.ReadCloser
	left    int64
	release chan struct{}
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if g.left <= 0 {
		<-g.release
		return g.body.Read(p)
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, err := g.body.Read(p)
	g.left -= int64(n)
	return n, err
}

func (g *gatedBody) Close() error { return g.body.Close() }

// gatedWriterTo keeps the body's WriteTo visible to net/http, which uses
// it only for the last read (the bytes before go through a LimitReader).
type gatedWriterTo struct{ *gatedBody }

func (g gatedWriterTo) WriteTo(w io.Writer) (int64, error) {
	<-g.release
	return g.body.(io.WriterTo).WriteTo(w)
}

// afterWrite runs start before the first read of the response body.
type afterWrite struct {
	io.ReadCloser
	once  sync.Once
	start func()
}

func (a *afterWrite) Read(p []byte) (int, error) {
	a.once.Do(a.start)
	return a.ReadCloser.Read(p)
}

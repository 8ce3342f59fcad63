package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Webhook POSTs each event as JSON. An attempt that fails with a network
// error, a timeout, 429 or a 5xx answer is retried after a backoff that
// starts at InitialBackoff and doubles up to MaxBackoff, MaxAttempts times
// in all; any other answer outside 2xx is final.
type Webhook struct {
	URL            string
	Timeout        time.Duration // per attempt
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Client         *http.Client // nil: http.DefaultClient
	// wait waits d or until ctx ends; tests replace it to record backoffs.
	wait func(ctx context.Context, d time.Duration) error
}

func (w *Webhook) Name() string { return "webhook" }

func (w *Webhook) Notify(ctx context.Context, ev Event) error {
	body, err := encode(ev)
	if err != nil {
		return err
	}
	backoff := w.InitialBackoff
	for attempt := 1; ; attempt++ {
		retry, err := w.post(ctx, body)
		if err == nil {
			return nil
		}
		if !retry || attempt >= w.MaxAttempts {
			return fmt.Errorf("webhook %s: attempt %d of %d: %w", redact(w.URL), attempt, w.MaxAttempts, err)
		}
		if werr := w.sleep(ctx, backoff); werr != nil {
			return fmt.Errorf("webhook %s: gave up after attempt %d: %w (last error: %v)", redact(w.URL), attempt, werr, err)
		}
		backoff = min(2*backoff, w.MaxBackoff)
	}
}

// post makes one attempt; retry says whether another may succeed.
func (w *Webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("invalid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "econe-server")
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text holds the URL, which may hold a token
		}
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("answered %s", resp.Status)
	}
	return false, fmt.Errorf("answered %s (not retried)", resp.Status)
}

func (w *Webhook) sleep(ctx context.Context, d time.Duration) error {
	if w.wait != nil {
		return w.wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redact is u without user information or query, either of which may hold
// the webhook's secret.
func redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	parsed.User, parsed.RawQuery, parsed.ForceQuery, parsed.Fragment = nil, "", false, ""
	return parsed.String()
}

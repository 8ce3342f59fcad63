package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
)

// Replaying the recorded hadoop-ec2 runs (../shared/compat/*-trace.jsonl):
// each request is re-signed with a test user's key, SigV2 as boto 2.0b3
// signs or SigV4 as boto 2.49 does, and sent with the recorded method.

// compatDir holds the traces, beside the project.
const compatDir = "../../shared/compat"

// TraceEntry is one recorded request.
type TraceEntry struct {
	Client string            `json:"client"`
	Method string            `json:"method"`
	SigV4  bool              `json:"sigv4"`
	Params map[string]string `json:"params"`
}

// Action is the request's Action parameter.
func (e TraceEntry) Action() string { return e.Params["Action"] }

// LoadTrace reads a trace file of ../shared/compat by name.
func LoadTrace(t *testing.T, name string) []TraceEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(compatDir, name))
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	defer f.Close()
	var out []TraceEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e TraceEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("trace %s line %d: %v", name, len(out)+1, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("trace %s: %v", name, err)
	}
	return out
}

// Replayer sends recorded requests as one user.
type Replayer struct {
	Env   *econetest.Env
	Creds *admin.Credentials
	// IDs maps ids of the recording (i-…, vol-…, snap-…) to the ids this
	// server returned for the same step: a parameter whose value is a
	// recorded id is sent with the live one. Fill it with Map.
	IDs map[string]string
	// Rewrite, when set, adjusts a request's parameters after the id
	// mapping and before signing (e.g. real UserData for a redacted one).
	Rewrite func(e TraceEntry, p url.Values)
}

// NewReplayer replays as the user c.
func NewReplayer(e *econetest.Env, c *admin.Credentials) *Replayer {
	return &Replayer{Env: e, Creds: c, IDs: map[string]string{}}
}

// Map records that the recording's id is live on this server.
func (rp *Replayer) Map(recorded, live string) { rp.IDs[recorded] = live }

// Params are the entry's parameters with recorded ids mapped.
func (rp *Replayer) Params(e TraceEntry) url.Values {
	p := url.Values{}
	for k, v := range e.Params {
		if live, ok := rp.IDs[v]; ok {
			v = live
		}
		p.Set(k, v)
	}
	if rp.Rewrite != nil {
		rp.Rewrite(e, p)
	}
	return p
}

// Send re-signs the entry and sends it; the reply has status and body.
func (rp *Replayer) Send(t *testing.T, e TraceEntry) reply {
	t.Helper()
	p := rp.Params(e)
	if !e.SigV4 {
		// boto 2.0b3: Timestamp in UTC without a zone, signature among the parameters.
		p = v2Params(p, rp.Creds.AccessKeyID, "HmacSHA256", "Timestamp", time.Now().UTC().Format(v2Time))
		return send(t, v2Signed(t, rp.Env, e.Method, rp.Creds.SecretAccessKey, "HmacSHA256", p))
	}
	req, body := newRequest(t, rp.Env, e.Method, p)
	creds := aws.Credentials{AccessKeyID: rp.Creds.AccessKeyID, SecretAccessKey: rp.Creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "ec2", rp.Env.Config.Region, time.Now().UTC()); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return send(t, req)
}

// Replay sends every entry keep selects, in order, and returns the replies.
func (rp *Replayer) Replay(t *testing.T, entries []TraceEntry, keep func(TraceEntry) bool) ([]TraceEntry, []reply) {
	t.Helper()
	var sent []TraceEntry
	var replies []reply
	for _, e := range entries {
		if keep(e) {
			sent, replies = append(sent, e), append(replies, rp.Send(t, e))
		}
	}
	return sent, replies
}

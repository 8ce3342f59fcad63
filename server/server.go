// Package server is econe-server's HTTP surface: it reads each request once,
// checks its signature, decodes its parameters, dispatches the action, and
// writes the answer — the one place that knows the wire envelopes.
package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/sigv4"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/xmlenc"
	"github.com/gorilla/mux"
	"github.com/rs/zerolog"
)

// Server answers EC2 Query requests.
type Server struct {
	cfg    *conf.Config
	svc    *actions.Service
	table  map[string]actions.Handler
	protos map[string]*protocol // by action: the service it belongs to
	creds  *credentials
	audit  *audit.Log // nil: nothing is audited (unit tests of the HTTP surface)
	log    zerolog.Logger
	clock  func() time.Time
	router *mux.Router
	obs    Observer

	// keys remembers derived signing keys, by secret and scope.
	keys sigv4.KeyCache
}

// New builds the server around an action service. Mutating requests are
// recorded in auditLog before they run, and refused if they cannot be.
func New(cfg *conf.Config, svc *actions.Service, keys *keyring.Keyring, auditLog *audit.Log, log zerolog.Logger) *Server {
	s := &Server{cfg: cfg, svc: svc, table: actions.Table(), protos: actionProtocols(actions.Services()), creds: newCredentials(keys), audit: auditLog, log: log, clock: svc.Clock, obs: noObserver{}}
	if s.clock == nil {
		s.clock = time.Now
	}
	r := mux.NewRouter()
	// EC2 clients may sign any path (some append one); every path is the API.
	r.MatcherFunc(func(*http.Request, *mux.RouteMatch) bool { return true }).Methods(http.MethodGet, http.MethodPost).Handler(http.HandlerFunc(s.serveAPI))
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.finish(w, req, time.Now(), newRequestID(), nil, ec2Protocol, "", actions.DefaultVersion, nil, ec2err.New(ec2err.UnsupportedOperation, "The HTTP method %s is not supported; use GET or POST.", req.Method))
	})
	s.router = r
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.obs.InFlight(1)
	defer s.obs.InFlight(-1)
	s.router.ServeHTTP(w, r)
}

// isVersion is whether v has an API version's form, YYYY-MM-DD in ASCII
// digits; any other Version is answered in the default one. (A regexp cost
// more than half a per cent of a describe.)
func isVersion(v string) bool {
	if len(v) != len("2006-01-02") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i == 4 || i == 7 {
			if v[i] != '-' {
				return false
			}
		} else if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Server) serveAPI(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	id := newRequestID()
	var (
		user    *store.User
		proto   = ec2Protocol
		action  string
		version = actions.DefaultVersion
		resp    any
		err     error
	)
	defer func() {
		if p := recover(); p != nil {
			err = &ec2err.Error{Code: ec2err.InternalError, Message: "An internal error has occurred.", Detail: fmt.Sprintf("panic: %v\n%s", p, debug.Stack())}
			resp = nil
		}
		s.finish(w, req, start, id, user, proto, action, version, resp, err)
	}()

	params, form, bodyHash, err := s.readParams(w, req)
	if err != nil {
		return
	}
	action = params.Get("Action")
	if v := params.Get("Version"); isVersion(v) {
		version = v
	}
	h, known := s.table[action]
	// The action decides the service its scope must name; an unknown one
	// is refused whatever the client signed for, in that service's protocol.
	service := ""
	if known {
		if proto = s.protos[action]; proto == nil {
			proto = ec2Protocol // a handler a test injected
		}
		service = proto.service
	}
	var scope sigv4.Result
	// A request that only reads may be verified against a remembered
	// credential, which its first store read confirms (confirming).
	var unconfirmed *credential
	user, unconfirmed, scope, err = s.authenticate(req, form, bodyHash, proto, service, known && !audit.Mutating(action))
	if err != nil {
		return
	}
	if action == "" {
		err = ec2err.Missing("Action")
		return
	}
	if !known {
		proto = scopeProtocol(scope.Service)
		err = ec2err.New(ec2err.InvalidAction, "The action %s is not valid for this web service.", action)
		return
	}
	p, err := query.Parse(params)
	if err != nil {
		return
	}
	call, err := s.audit.Start(id, user.Name, user.AccessKeyID, req.RemoteAddr, action, params)
	if err != nil {
		return
	}
	svc := s.svc
	if call != nil && actions.StoreFirst(action) {
		// The action runs while its audit entry is written; its updates
		// commit only once the entry is durable.
		gated := *s.svc
		gated.Store = store.After(s.svc.Store, call.Wait)
		svc = &gated
	} else if err = call.Wait(); err != nil {
		return
	}
	run := func(svc *actions.Service) (any, error) {
		return h(svc, &actions.Request{
			Context: req.Context(),
			ID:      id,
			User:    user,
			Action:  action,
			Version: version,
			Region:  scope.Region,
			Params:  p,
		})
	}
	if unconfirmed == nil {
		resp, err = run(svc)
	} else if resp, err = s.runConfirmed(unconfirmed, run); errors.Is(err, errChanged) {
		// The record changed since the credential was remembered: the
		// request is verified again from it, and run again if it may be.
		if user, _, scope, err = s.authenticate(req, form, bodyHash, proto, service, false); err != nil {
			return
		}
		resp, err = run(svc)
	}
	// Nothing is answered before the request entry is durable; if it
	// could not be written, nothing was committed either.
	if werr := call.Wait(); werr != nil {
		resp, err = nil, werr
		return
	}
	call.End(resp, err)
}

// runConfirmed runs a request that only reads, verified against the
// remembered credential cred, over a store whose first read confirms it;
// errChanged (and no answer) when the user record is no longer the one
// cred came from.
func (s *Server) runConfirmed(cred *credential, run func(*actions.Service) (any, error)) (any, error) {
	c := newConfirming(s.svc.Store, cred)
	checked := *s.svc
	checked.Store = c
	resp, err := run(&checked)
	same, cerr := c.confirm()
	switch {
	case cerr != nil:
		return nil, cerr
	case !same:
		return nil, errChanged
	}
	return resp, err
}

// readParams reads the body once (with the size limit), hashes it for the
// signature, and merges query and form parameters.
func (s *Server) readParams(w http.ResponseWriter, req *http.Request) (params, form url.Values, bodyHash string, err error) {
	limit := s.cfg.MaxRequestBytes
	body, rerr := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(rerr, &tooBig) {
		return nil, nil, "", ec2err.New(ec2err.RequestEntityTooLarge, "The request body is larger than %d bytes.", limit)
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		return nil, nil, "", ec2err.New(ec2err.RequestTimeout, "The request body did not arrive within %s.", s.cfg.Limits.BodyReadTimeout)
	}
	if rerr != nil {
		return nil, nil, "", ec2err.New(ec2err.InvalidRequest, "The request body could not be read.")
	}
	sum := sha256.Sum256(body)
	bodyHash = hex.EncodeToString(sum[:])
	// url.ParseQuery refuses more than maxParams fields with an error that
	// is neither typed nor worth showing: count them as it does, over the
	// query and the body together, and name the limit.
	formText := string(body)
	n := fieldCount(req.URL.RawQuery) + fieldCount(formText)
	if len(body) > 0 {
		if ct, ok := formType(req.Header.Get("Content-Type")); !ok {
			return nil, nil, "", ec2err.New(ec2err.InvalidRequest, "Content-Type %q is not supported; send application/x-www-form-urlencoded.", ct)
		}
	}
	if n > maxParams {
		return nil, nil, "", ec2err.New(ec2err.InvalidParameterValue, "The request has %d parameters (query string and body together); at most %d are accepted in one request. Split it into several requests.", n, maxParams)
	}
	var perr error
	if req.URL.RawQuery != "" {
		if params, perr = url.ParseQuery(req.URL.RawQuery); perr != nil {
			return nil, nil, "", ec2err.New(ec2err.InvalidRequest, "The query string is not valid URL encoding.")
		}
	}
	if len(body) > 0 {
		if form, perr = url.ParseQuery(formText); perr != nil {
			return nil, nil, "", ec2err.New(ec2err.InvalidRequest, "The request body is not valid form encoding.")
		}
	}
	switch {
	case params == nil && form != nil:
		// The SDKs send everything in the body: the form is the parameters.
		// One map serves as both because neither is written to after this.
		params = form
	case params == nil:
		params = url.Values{}
	default:
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params, form, bodyHash, nil
}

// sdkFormType is the Content-Type the AWS SDKs and CLI send.
const sdkFormType = "application/x-www-form-urlencoded; charset=utf-8"

// formType is the media type of a body's Content-Type header and whether
// the server reads that body (form encoding, or no type or one that does
// not parse); the SDKs' own header needs no parsing.
func formType(header string) (string, bool) {
	if header == sdkFormType {
		return "application/x-www-form-urlencoded", true
	}
	ct, _, _ := mime.ParseMediaType(header)
	return ct, ct == "application/x-www-form-urlencoded" || ct == ""
}

// maxParams is the number of fields net/url's ParseQuery accepts in one
// string (its defaultMaxParams), applied here to the whole request.
const maxParams = 10000

// fieldCount counts the '&'-separated fields of a form-encoded string as
// ParseQuery does before refusing too many (empty fields included).
func fieldCount(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, "&") + 1
}

// authenticate verifies the signature against the user's secret, for a
// scope naming service ("" = any), and returns the scope it verified.
// A disabled user's key is treated exactly as an unknown one; a failure is
// answered as proto's service answers it. With remembered, a key seen
// before is verified against the credential remembered for it, without
// reading the store, and that credential comes back unconfirmed: the
// caller must confirm it (confirming) before anything of the request takes
// effect or is answered. What it refuses is verified again from the record.
func (s *Server) authenticate(req *http.Request, form url.Values, bodyHash string, proto *protocol, service string, remembered bool) (*store.User, *credential, sigv4.Result, error) {
	user, unconfirmed, res, lookupErr, err := s.verify(req, form, bodyHash, service, remembered)
	if unconfirmed != nil && (err != nil || s.termEnded(user) != nil) {
		user, unconfirmed, res, lookupErr, err = s.verify(req, form, bodyHash, service, false)
	}
	if lookupErr != nil {
		return nil, nil, sigv4.Result{}, fmt.Errorf("credential lookup: %w", lookupErr)
	}
	if err != nil {
		if se := (*sigv4.Error)(nil); errors.As(err, &se) {
			s.obs.AuthFailed(se.Kind.String())
		}
		return nil, nil, sigv4.Result{}, proto.authError(err)
	}
	if err := s.termEnded(user); err != nil {
		return user, nil, res, err // verified: the access log names the student
	}
	return user, unconfirmed, res, nil
}

// verify is authenticate's signature check, with the credential it used
// when that was a remembered one; lookupErr is the store's failure.
func (s *Server) verify(req *http.Request, form url.Values, bodyHash string, service string, remembered bool) (user *store.User, unconfirmed *credential, res sigv4.Result, lookupErr, err error) {
	lookup := func(accessKeyID string) (string, bool) {
		if remembered {
			if cred := s.creds.remembered(accessKeyID); cred != nil {
				u := cred.user // each request gets its own copy
				user, unconfirmed = &u, cred
				return cred.secret, true
			}
		}
		u, secret, ok, err := s.creds.lookup(s.svc.Store, accessKeyID)
		user, unconfirmed, lookupErr = u, nil, err
		return secret, ok
	}
	for _, host := range s.signedHosts(req) {
		res, err = sigv4.Verify(sigv4.Request{
			Method:     req.Method,
			Host:       host,
			Path:       req.URL.EscapedPath(),
			RawQuery:   req.URL.RawQuery,
			Header:     req.Header,
			Form:       form,
			BodySHA256: bodyHash,
		}, lookup, sigv4.Options{
			Now:           s.clock(),
			MaxSkew:       s.cfg.Auth.MaxClockSkew.D(),
			AllowV2:       s.cfg.Auth.SigV2,
			Region:        s.cfg.Region,
			EnforceRegion: s.cfg.Auth.EnforceRegion,
			Service:       service,
			Keys:          &s.keys,
		})
		if !errors.Is(err, sigv4.ErrMismatch) {
			break
		}
	}
	return user, unconfirmed, res, lookupErr, err
}

// signedHosts are the hosts a client may have signed, most likely first.
// Behind a TLS proxy (ssl_server) clients sign the public host, whatever
// Host header the proxy forwards; a client on the server machine that
// bypasses the proxy signs the address it connected to.
func (s *Server) signedHosts(req *http.Request) []string {
	if s.cfg.SSLServer != "" { // PublicHost costs a join of host and port
		if public := s.cfg.PublicHost(); public != req.Host {
			return []string{public, req.Host}
		}
	}
	return []string{req.Host}
}

// quietError is an error whose client message stays out of the log.
type quietError struct{ err *ec2err.Error }

func (q quietError) Error() string { return q.err.Code + ": " + q.err.Detail }
func (q quietError) Unwrap() error { return q.err }

// sentence capitalises sigv4's lower-case explanations and ends them with a
// full stop, to read like EC2's messages.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

var xmlContentType = []string{"text/xml;charset=UTF-8"}

// finish writes the response (proto's success or error envelope) and logs the
// request's one access line.
func (s *Server) finish(w http.ResponseWriter, req *http.Request, start time.Time, id string, user *store.User, proto *protocol, action, version string, resp any, err error) {
	var body []byte
	status := http.StatusOK
	if err == nil {
		enc := getEncodeBuffer()
		defer putEncodeBuffer(enc)
		body, err = proto.success(enc, action, version, id, resp)
	}
	var e *ec2err.Error
	if err != nil {
		e = ec2err.As(storeUnavailable(err))
		body, status = proto.failure(e, id)
	}
	// The keys are canonical already: assigning skips Set's canonicalising,
	// the Content-Type value is shared (net/http only reads it), and the
	// other values share one array. A Date set here spares net/http
	// formatting it for every response.
	h := w.Header()
	vals := []string{id, strconv.Itoa(len(body)), httpDate(time.Now())}
	h["Content-Type"] = xmlContentType
	h["X-Amzn-Requestid"] = vals[0:1:1]
	h["Content-Length"] = vals[1:2:2]
	h["Date"] = vals[2:3:3]
	w.WriteHeader(status)
	_, _ = w.Write(body)
	took := time.Since(start)
	code := "Success"
	if e != nil {
		code = e.Code
	}
	s.obs.RequestDone(action, code, took)

	ev := s.log.Info()
	if status >= 500 {
		ev = s.log.Error()
	}
	ev = ev.Str("request_id", id).Str("action", action).Int("status", status).
		Dur("duration", took).Str("remote", req.RemoteAddr).Str("method", req.Method)
	if user != nil {
		ev = ev.Str("user", user.Name)
	}
	if e != nil {
		ev = ev.Str("error_code", e.Code)
		if !errors.As(err, new(quietError)) {
			ev = ev.Str("error", e.Message)
		}
		if e.Detail != "" {
			ev = ev.Str("detail", e.Detail)
		}
	}
	ev.Msg("request")
}

// lastDate is the Date header of the latest second a response was in.
var lastDate atomic.Pointer[httpSecond]

type httpSecond struct {
	unix int64
	date string
}

// httpDate is now as an HTTP Date header, formatted once a second.
func httpDate(now time.Time) string {
	if d := lastDate.Load(); d != nil && d.unix == now.Unix() {
		return d.date
	}
	d := &httpSecond{now.Unix(), now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.date
}

type requestIDSetter interface{ SetRequestID(string) }

// encodeBuffer is where a success response is encoded, kept in a pool so
// a response does not allocate its buffer afresh.
type encodeBuffer struct{ out []byte }

// maxPooledBuffer keeps one huge listing from pinning its memory in the pool.
const maxPooledBuffer = 1 << 20

var encodeBuffers = sync.Pool{New: func() any { return &encodeBuffer{out: make([]byte, 0, 4096)} }}

func getEncodeBuffer() *encodeBuffer { return encodeBuffers.Get().(*encodeBuffer) }

func putEncodeBuffer(b *encodeBuffer) {
	if cap(b.out) <= maxPooledBuffer {
		encodeBuffers.Put(b)
	}
}

// marshalSuccess encodes resp as the action's success envelope (xmlenc
// writes what encoding/xml would, faster). The bytes are valid until b
// goes back to the pool.
func (b *encodeBuffer) marshalSuccess(action, version, id string, resp any) ([]byte, error) {
	if rs, ok := resp.(requestIDSetter); ok {
		rs.SetRequestID(id)
	}
	start := xml.StartElement{
		Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "http://ec2.amazonaws.com/doc/" + version + "/"}},
	}
	out, err := xmlenc.Append(append(b.out[:0], xml.Header...), resp, start)
	b.out = out
	if err != nil {
		return nil, fmt.Errorf("marshal %s response: %w", action, err)
	}
	return out, nil
}

type errorResponse struct {
	XMLName   xml.Name     `xml:"Response"`
	Errors    []errorEntry `xml:"Errors>Error"`
	RequestID string       `xml:"RequestID"`
}

type errorEntry struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func marshalError(e *ec2err.Error, id string) []byte {
	out, _ := xml.Marshal(errorResponse{Errors: []errorEntry{{e.Code, e.Message}}, RequestID: id})
	return append([]byte(xml.Header), out...)
}

// newRequestID returns a random UUID (version 4), the form EC2 uses.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	// Encoded in place: one allocation, the string.
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

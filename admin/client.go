package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client drives a running server's admin socket; it implements Service.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the socket at path. Nothing is dialled
// until the first call; Status is the cheap way to see if a server answers.
func NewClient(path string) *Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	return &Client{path: path, http: &http.Client{
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
		Timeout:   30 * time.Second,
	}}
}

// remoteError is an error the server answered with; it unwraps to the
// matching sentinel (ErrExists, ...) when there is one.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// call sends one request; out (if non-nil) receives the JSON answer.
func (c *Client) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, "http://econe-admin"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", c.path, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if err := dec.Decode(&eb); err != nil || eb.Error == "" {
			return fmt.Errorf("admin socket %s: unexpected answer %s", c.path, resp.Status)
		}
		return &remoteError{msg: eb.Error, kind: errorKinds[eb.Kind]}
	}
	if out == nil {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("admin socket %s: bad answer: %w", c.path, err)
	}
	return nil
}

func userPath(name, op string) string {
	p := pathUsers + "/" + url.PathEscape(name)
	if op != "" {
		p += "/" + op
	}
	return p
}

// fetch is call for operations that answer with a value.
func fetch[T any](c *Client, method, path string, in any) (*T, error) {
	v := new(T)
	if err := c.call(method, path, in, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Status asks the server about itself.
func (c *Client) Status() (*Status, error) { return fetch[Status](c, http.MethodGet, pathStatus, nil) }

// The Service methods, as documented on *Users.

func (c *Client) Add(name, group string) (*Credentials, error) {
	return fetch[Credentials](c, http.MethodPost, pathUsers, addRequest{Name: name, Group: group})
}

func (c *Client) RotateKey(name string) (*Credentials, error) {
	return fetch[Credentials](c, http.MethodPost, userPath(name, "rotate-key"), nil)
}

func (c *Client) SetDisabled(name string, disabled bool) error {
	op := "enable"
	if disabled {
		op = "disable"
	}
	return c.call(http.MethodPost, userPath(name, op), nil, nil)
}

func (c *Client) Delete(name string) error {
	return c.call(http.MethodDelete, userPath(name, ""), nil, nil)
}

func (c *Client) Show(name string) (*UserInfo, error) {
	return fetch[UserInfo](c, http.MethodGet, userPath(name, ""), nil)
}

func (c *Client) List() ([]*UserInfo, error) {
	list, err := fetch[[]*UserInfo](c, http.MethodGet, pathUsers, nil)
	if err != nil {
		return nil, err
	}
	return *list, nil
}

func (c *Client) Credentials(name string) (*Credentials, error) {
	return fetch[Credentials](c, http.MethodGet, userPath(name, "credentials"), nil)
}

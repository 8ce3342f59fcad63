package actions

import (
	"regexp"
	"testing"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

var iamUserIDRE = regexp.MustCompile(`^AIDA[A-Z2-7]{17}$`)

// TestGetCallerIdentity: each student is their own account, the one in
// OwnerId; the user id has IAM's form and differs between students.
func TestGetCallerIdentity(t *testing.T) {
	e := newTestEnv(t, nil)
	ids := map[string]string{}
	for _, name := range []string{"alice", "bob"} {
		got := e.mustCall(t, name, "GetCallerIdentity").(*callerIdentity)
		u := e.users[name]
		if got.Account != u.AccountID {
			t.Errorf("%s: got Account %q, want %q", name, got.Account, u.AccountID)
		}
		if want := "arn:aws:iam::" + u.AccountID + ":user/" + name; got.Arn != want {
			t.Errorf("%s: got Arn %q, want %q", name, got.Arn, want)
		}
		if !iamUserIDRE.MatchString(got.UserID) {
			t.Errorf("%s: got UserId %q, want AIDA and 17 of [A-Z2-7]", name, got.UserID)
		}
		ids[name] = got.UserID
	}
	if ids["alice"] == ids["bob"] {
		t.Errorf("got the same UserId %q for alice and bob, want one each", ids["alice"])
	}
}

// TestIAMUserIDSurvivesKeyRotation: the id follows the user, not the key.
func TestIAMUserIDSurvivesKeyRotation(t *testing.T) {
	u := &store.User{Name: "alice", AccountID: "111111111111", AccessKeyID: "AKIAOLD", KeyRotated: time.Unix(1, 0)}
	rotated := *u
	rotated.AccessKeyID, rotated.KeyRotated = "AKIANEW", time.Unix(2, 0)
	if a, b := iamUserID(u), iamUserID(&rotated); a != b {
		t.Errorf("got UserId %q before rotation and %q after, want the same", a, b)
	}
	recreated := *u
	recreated.AccountID = "999999999999"
	if a, b := iamUserID(u), iamUserID(&recreated); a == b {
		t.Errorf("got UserId %q for a user deleted and added again (new account), want a new one", a)
	}
}

func TestGetUser(t *testing.T) {
	e := newTestEnv(t, nil)
	created := time.Date(2026, 9, 1, 8, 30, 0, 123, time.UTC)
	e.users["alice"].Created = created
	cases := []struct {
		name     string
		kv       []string
		wantCode string
	}{
		{"no UserName: the caller", nil, ""},
		{"the caller's own name", []string{"UserName", "alice"}, ""},
		{"the caller's name in another case", []string{"UserName", "Alice"}, ""},
		{"a classmate's name", []string{"UserName", "bob"}, ec2err.NoSuchEntity},
		{"a name nobody has", []string{"UserName", "mallory"}, ec2err.NoSuchEntity},
		{"an empty name", []string{"UserName", ""}, ec2err.ValidationError},
		{"a name IAM cannot have", []string{"UserName", "a/b"}, ec2err.ValidationError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := e.call(t, "alice", "GetUser", c.kv...)
			if c.wantCode != "" {
				wantCode(t, err, c.wantCode)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want alice", err)
			}
			want := iamUser{
				Path: "/", UserName: "alice", UserID: iamUserID(e.users["alice"]),
				Arn: "arn:aws:iam::111111111111:user/alice", CreateDate: "2026-09-01T08:30:00Z",
			}
			if got := resp.(*getUserResult).User; got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	// A classmate's name is answered exactly as a name nobody has.
	_, bob := e.call(t, "alice", "GetUser", "UserName", "bob")
	_, nobody := e.call(t, "alice", "GetUser", "UserName", "zed")
	if got, want := ec2err.As(bob).Message, "The user with name bob cannot be found."; got != want {
		t.Errorf("got message %q for a classmate, want %q", got, want)
	}
	if got, want := ec2err.As(nobody).Message, "The user with name zed cannot be found."; got != want {
		t.Errorf("got message %q for nobody, want %q", got, want)
	}
}

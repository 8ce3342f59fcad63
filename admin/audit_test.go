package admin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/econe/econe-server/audit"
	"github.com/rs/zerolog"
)

func openAudit(t *testing.T, dir string) *audit.Log {
	t.Helper()
	l, err := audit.Open(audit.Options{Dir: dir, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Admin commands through the socket are recorded as the OS user at the
// other end (SO_PEERCRED), with the new key's id but never its secret.
func TestSocketAuditsAdminCommands(t *testing.T) {
	dir := t.TempDir()
	sock, err := ServeSocket(filepath.Join(t.TempDir(), "admin.sock"), newUsers(t), openAudit(t, dir), func() Status { return Status{} }, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Shutdown(t.Context()) })
	c := NewClient(sock.path)
	cred, err := c.Add("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := c.RotateKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetDisabled("alice", true); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete(bob): got %v, want ErrNotFound", err)
	}
	entries, _, err := audit.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	changes := audit.Changes(entries)
	want := []struct{ action, result, resource string }{
		{"user.add", "Success", cred.AccessKeyID},
		{"user.rotate-key", "Success", rotated.AccessKeyID},
		{"user.disable", "Success", "alice"},
		{"user.delete", "Error", "bob"},
	}
	if len(changes) != len(want) {
		t.Fatalf("got %d changes %+v, want %d (list is not one)", len(changes), changes, len(want))
	}
	actor := audit.AdminActor(audit.CurrentOSUser())
	for i, w := range want {
		ch := changes[i]
		if ch.Action != w.action || ch.Result != w.result || !strings.Contains(strings.Join(ch.Resources, " "), w.resource) ||
			ch.User != actor || ch.Source != "admin socket" {
			t.Errorf("change %d: got %+v, want %s %s naming %s by %s from the admin socket", i, ch, w.action, w.result, w.resource, actor)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	if strings.Contains(string(raw), cred.SecretAccessKey) || strings.Contains(string(raw), rotated.SecretAccessKey) {
		t.Error("the audit log holds a secret access key")
	}
}

// An admin command that cannot be recorded is refused and changes nothing.
func TestAuditedRefusesUnrecorded(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "audit.log")); err != nil {
		t.Fatal(err)
	}
	users := newUsers(t)
	svc := Audited{users, Auditor{Log: openAudit(t, dir), Actor: "admin:root", Source: "cli"}}
	if _, err := svc.Add("alice", ""); err == nil || !strings.Contains(err.Error(), "auditing failed") {
		t.Fatalf("Add with the audit log full: got %v, want a refusal saying auditing failed", err)
	}
	if _, err := users.Show("alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Show(alice) after the refusal: got %v, want ErrNotFound", err)
	}
}

package keyring

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode: got %v, want 0600", got)
	}
	sealed := k.Seal("AKIA1", "topsecret")
	if strings.Contains(string(sealed), "topsecret") {
		t.Fatal("sealed secret contains the plaintext")
	}
	if got, err := k.Open("AKIA1", sealed); err != nil || got != "topsecret" {
		t.Errorf("open: got %q, %v, want topsecret", got, err)
	}
	if _, err := k.Open("AKIA2", sealed); err == nil {
		t.Error("open with another label: got nil error, want failure")
	}
	k2, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Open("AKIA1", sealed); err != nil || got != "topsecret" {
		t.Errorf("reloaded key: got %q, %v", got, err)
	}
	other, _ := LoadOrCreate(filepath.Join(t.TempDir(), "other.key"))
	if _, err := other.Open("AKIA1", sealed); err == nil {
		t.Error("open with another key file: got nil error, want failure")
	}
}

func TestRefusesWorldReadableKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	if _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreate(path); err == nil {
		t.Error("got nil error for a 0644 key file, want refusal")
	}
}

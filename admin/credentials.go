package admin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/econe/econe-server/store"
)

// Profile is the AWS CLI profile `user credentials` writes.
const Profile = "econe"

// Credentials opens the user's sealed secret with the keyring: the admin can
// hand a student their files again without rotating (and so breaking) the
// key they already use.
func (u *Users) Credentials(name string) (*Credentials, error) {
	var rec *store.User
	err := u.Store.View(func(tx store.Tx) error {
		var err error
		rec, err = userRecord(tx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	secret, err := u.Keys.Open(rec.AccessKeyID, rec.SealedSecret)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return &Credentials{Name: rec.Name, Group: rec.Group, AccessKeyID: rec.AccessKeyID, SecretAccessKey: secret}, nil
}

// ProfileFiles are the AWS shared files written for a student.
type ProfileFiles struct {
	Credentials string // DIR/credentials
	Config      string // DIR/config
}

// WriteProfile writes (or updates) DIR/credentials and DIR/config with the
// econe profile: keys, region and endpoint_url. Other profiles in existing
// files are kept, so DIR may be a student's ~/.aws. Files are mode 0600;
// when root writes into someone else's directory, the files are given to
// the directory's owner so the student can read them.
func WriteProfile(dir string, c *Credentials, region, endpoint string) (*ProfileFiles, error) {
	dir, err := filepath.Abs(dir) // the hint is to be pasted anywhere
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files := &ProfileFiles{Credentials: filepath.Join(dir, "credentials"), Config: filepath.Join(dir, "config")}
	sections := []struct {
		path, header string
		body         []string
	}{
		{files.Credentials, "[" + Profile + "]", []string{
			"aws_access_key_id = " + c.AccessKeyID,
			"aws_secret_access_key = " + c.SecretAccessKey,
		}},
		{files.Config, "[profile " + Profile + "]", []string{
			"region = " + region,
			// AWS CLI v2 reads endpoint_url from 2.13 on; older ones need --endpoint-url.
			"endpoint_url = " + endpoint,
		}},
	}
	for _, s := range sections {
		if err := writeSection(s.path, s.header, s.body); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Hint is the one-line command that tries the profile. The environment
// variables are spelled out unless the files are in a ~/.aws, where the
// CLI finds them by itself; --endpoint-url is always given, because AWS
// CLIs before v2.13 ignore endpoint_url in the config file.
func (f *ProfileFiles) Hint(endpoint string) string {
	cmd := fmt.Sprintf("aws --profile %s --endpoint-url %s ec2 describe-regions", Profile, endpoint)
	if filepath.Base(filepath.Dir(f.Config)) == ".aws" {
		return cmd
	}
	return fmt.Sprintf("AWS_CONFIG_FILE=%s AWS_SHARED_CREDENTIALS_FILE=%s %s", f.Config, f.Credentials, cmd)
}

// writeSection replaces the INI section header in the file at path (or
// appends it), keeping every other section, and writes it atomically.
func writeSection(path, header string, body []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	text := replaceSection(string(old), header, body)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := giveToDirOwner(tmp.Name()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// replaceSection drops the section named by header from an INI text and
// appends the new one at the end.
func replaceSection(text, header string, body []string) string {
	var kept []string
	skipping := false
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "[") {
			skipping = t == header
		}
		if !skipping && (line != "" || len(kept) > 0) {
			kept = append(kept, line)
		}
	}
	for len(kept) > 0 && strings.TrimSpace(kept[len(kept)-1]) == "" {
		kept = kept[:len(kept)-1]
	}
	if len(kept) > 0 {
		kept = append(kept, "")
	}
	kept = append(kept, header)
	kept = append(kept, body...)
	return strings.Join(kept, "\n") + "\n"
}

// giveToDirOwner chowns path to the owner of its directory when running as
// root and the directory belongs to someone else.
func giveToDirOwner(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return nil
	}
	return os.Chown(path, int(sys.Uid), int(sys.Gid))
}

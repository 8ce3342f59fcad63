package conf

import (
	"strings"
	"testing"
)

// A dsn may hold a password: problems with it never quote it.
func TestStoreDSNNotQuoted(t *testing.T) {
	for _, dsn := range []string{"mysql://econe:s3cret@db/econe", "password=s3cret", "s3cret"} {
		c := Default()
		c.Store = Store{Driver: StorePostgres, DSN: dsn, MaxConns: 1}
		if err := c.Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("dsn %q: got %v, want a problem that does not quote the password", dsn, err)
		}
	}
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage students (works whether or not the server is running)",
		Long: `Manage the users (students) of the server. While the server runs, the
commands go through its admin socket (DATA_DIR/admin.sock, readable by the
server's user only); when it is stopped, they open the data directory
directly. Changes take effect immediately either way.`,
	}
	cmd.AddCommand(newUserAddCmd(), newUserListCmd(), newUserShowCmd(), newUserRotateCmd(),
		newUserSetDisabledCmd("disable", true), newUserSetDisabledCmd("enable", false),
		newUserDeleteCmd(), newUserImportCmd(), newUserCredentialsCmd())
	return cmd
}

// userNameArg accepts exactly one valid user name.
func userNameArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want one user NAME, got %d arguments", len(args))
	}
	return admin.ValidName("user", args[0])
}

// withAdmin runs fn with the user administration of the configured server.
func withAdmin(cmd *cobra.Command, fn func(svc admin.Service, cfg *conf.Config) error) error {
	cfg, _, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	svc, closeFn, err := openAdmin(cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(svc, cfg)
}

// openAdmin uses the local server's socket, else the store itself. On
// bbolt the database lock decides: if it is held, a server is (just now)
// running and its socket must answer. PostgreSQL has no such lock: every
// replica and admin command may use it at once, so without a local
// server the command goes to the database directly.
func openAdmin(cfg *conf.Config) (admin.Service, func(), error) {
	client := admin.NewClient(cfg.AdminSocketPath())
	if _, err := client.Status(); err == nil {
		return client, func() {}, nil
	}
	st, keys, err := app.OpenStore(cfg)
	if errors.Is(err, store.ErrLocked) {
		_, serr := client.Status()
		if serr == nil {
			return client, func() {}, nil
		}
		return nil, nil, fmt.Errorf("a running econe-server holds the data directory %s, but its admin socket does not answer (%v); see `econe-server status` and the server log", cfg.DataDir, serr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open the data directory %s: %w", cfg.DataDir, err)
	}
	// No local server writes the audit log meanwhile (bbolt: the store's
	// lock is held; postgres: the socket did not answer).
	auditLog, err := app.OpenAudit(cfg, zerolog.New(os.Stderr), nil)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("cannot open the audit log (admin commands are refused without it): %w", err)
	}
	svc := admin.Audited{Service: &admin.Users{Store: st, Keys: keys, Config: cfg},
		Auditor: admin.Auditor{Log: auditLog, Actor: audit.AdminActor(audit.CurrentOSUser()), Source: "cli"}}
	return svc, func() { auditLog.Close(); st.Close() }, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printCredentials shows freshly issued keys.
func printCredentials(w io.Writer, asJSON bool, verb string, c *admin.Credentials) error {
	if asJSON {
		return printJSON(w, c)
	}
	group := ""
	if c.Group != "" {
		group = " (group " + c.Group + ")"
	}
	fmt.Fprintf(w, "user %s %s%s\n  access key id:     %s\n  secret access key: %s\n", c.Name, verb, group, c.AccessKeyID, c.SecretAccessKey)
	fmt.Fprintf(w, "Write them as AWS CLI files for the student: econe-server user credentials %s --dir DIR\n", c.Name)
	return nil
}

func newUserAddCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a student with a fresh access key",
		Long: `Create a student with a fresh access key id (20 upper-case letters and
digits) and a 40-character secret, and print them. With --json, print one
JSON object: {"name", "group", "access_key_id", "secret_access_key"}.
Names: a lower-case letter, then up to 63 lower-case letters, digits, '_'
or '-'.`,
		Args: userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			group, _ := cmd.Flags().GetString("group")
			if group != "" {
				if err := admin.ValidName("group", group); err != nil {
					return err
				}
			}
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				c, err := svc.Add(args[0], group)
				if err != nil {
					return err
				}
				return printCredentials(cmd.OutOrStdout(), jsonFlag(cmd), "created", c)
			})
		},
	}
	cmd.Flags().String("group", "", "the student's `GROUP` (e.g. the class)")
	addJSONFlag(cmd)
	return cmd
}

func addJSONFlag(cmd *cobra.Command) { cmd.Flags().Bool("json", false, "print JSON") }

func jsonFlag(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

func newUserListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the students (never their secrets)",
		Long:  "List every user by name. With --json, print a JSON array of users.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				users, err := svc.List()
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					if users == nil {
						users = []*admin.UserInfo{}
					}
					return printJSON(cmd.OutOrStdout(), users)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tGROUP\tACCESS KEY ID\tSTATUS\tCREATED")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, orDash(u.Group), u.AccessKeyID, userStatus(u), u.Created.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	addJSONFlag(cmd)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func userStatus(u *admin.UserInfo) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}

func newUserShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one student (never the secret)",
		Long:  "Show one user's record. With --json, print it as one JSON object.",
		Args:  userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				u, err := svc.Show(args[0])
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return printJSON(cmd.OutOrStdout(), u)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "name:          %s\ngroup:         %s\naccount id:    %s\naccess key id: %s\nstatus:        %s\ncreated:       %s\nkey rotated:   %s\n",
					u.Name, orDash(u.Group), u.AccountID, u.AccessKeyID, userStatus(u), u.Created.Format(time.RFC3339), u.KeyRotated.Format(time.RFC3339))
				return nil
			})
		},
	}
	addJSONFlag(cmd)
	return cmd
}

func newUserRotateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-key NAME",
		Short: "Issue a new access key; the old one stops working at once",
		Long: `Replace the user's access key and secret and print the new ones (--json:
one JSON object as for add). Requests signed with the old key fail with
AuthFailure from now on.`,
		Args: userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				c, err := svc.RotateKey(args[0])
				if err != nil {
					return err
				}
				return printCredentials(cmd.OutOrStdout(), jsonFlag(cmd), "has a new key", c)
			})
		},
	}
	addJSONFlag(cmd)
	return cmd
}

func newUserSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	short := "Let a disabled student's requests through again"
	if disabled {
		short = "Refuse a student's requests (AuthFailure) until enabled again"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				if err := svc.SetDisabled(args[0], disabled); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s %sd\n", args[0], verb)
				return nil
			})
		},
	}
}

func newUserDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a student, their key and what they owned",
		Long: `Delete a user, their access key and everything they owned: keypairs,
security groups, tags and terminated instances, so that a later user of the
same name starts clean. Refused while the user still holds anything a
backend keeps or that costs money (an instance that is not terminated, a
volume, a snapshot, an elastic IP): terminate, delete or release those first.`,
		Args: userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				if err := svc.Delete(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s deleted\n", args[0])
				return nil
			})
		},
	}
}

func newUserImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import ROSTER.csv",
		Short: "Create a class from a CSV roster of name[,group]",
		Long: `Create every student of a CSV roster with rows name[,group] ("-" reads
standard input). A first row "name" or "name,group" is a header; blank
lines and lines starting with '#' are skipped. The whole roster is checked
first: if any row is bad, every bad row is listed and nobody is created.

Prints a CSV of name,group,access_key_id,secret_access_key,status. The
import is idempotent: users that already exist are reported with status
"exists" and keep their key (no secret is printed for them), so it can be
rerun after adding late students to the roster.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			roster, err := readRoster(cmd, args[0])
			if err != nil {
				return err
			}
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				results, err := admin.Import(svc, roster)
				if werr := admin.WriteImportCSV(cmd.OutOrStdout(), results); err == nil {
					err = werr
				}
				created := 0
				for _, r := range results {
					if r.Status == admin.StatusCreated {
						created++
					}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%d created, %d already existed (keys not reissued)\n", created, len(results)-created)
				return err
			})
		},
	}
}

func readRoster(cmd *cobra.Command, path string) ([]admin.RosterEntry, error) {
	in := cmd.InOrStdin()
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	roster, err := admin.ParseRoster(in)
	if err != nil {
		return nil, fmt.Errorf("%s: nobody was created:\n%w", path, err)
	}
	return roster, nil
}

func newUserCredentialsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credentials NAME --dir DIR",
		Short: "Write a student's AWS CLI credentials and config files",
		Long: `Write DIR/credentials (profile "econe": the user's current access key and
secret) and DIR/config ([profile econe]: region and endpoint_url), mode
0600, keeping any other profiles already in them, so DIR may be the
student's ~/.aws. The key is NOT rotated: the secret is read from the store
(sealed with the server's key file), so the student's existing setup keeps
working. When run as root in a directory owned by someone else, the files
are given to that owner.

Prints a one-line command to try the profile. It passes --endpoint-url
because AWS CLI versions before 2.13 ignore endpoint_url in config.`,
		Args: userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _ := cmd.Flags().GetString("dir")
			return withAdmin(cmd, func(svc admin.Service, cfg *conf.Config) error {
				c, err := svc.Credentials(args[0])
				if err != nil {
					return err
				}
				files, err := admin.WriteProfile(dir, c, cfg.Region, cfg.EndpointURL())
				if err != nil {
					return fmt.Errorf("write the AWS files: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s (profile %s, key %s)\ntry: %s\n",
					files.Credentials, files.Config, admin.Profile, c.AccessKeyID, files.Hint(cfg.EndpointURL()))
				return nil
			})
		},
	}
	cmd.Flags().String("dir", "", "`DIR` to write credentials and config into (e.g. the student's ~/.aws)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/econe/econe-server/audit"
	"github.com/spf13/cobra"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit [--user NAME] [--since T] [--action A] [--resource ID] [--json]",
		Short: "Show the audit log: every change, who made it and its result",
		Long: `Show the audit log (audit.dir, default DATA_DIR/audit), rotated files
included, oldest first: one line per change (API call or admin command)
with its time, user, source address, action, resource ids, result code and
request id. It reads the files directly, so it works while the server runs.

--user matches a user name (admin commands: admin:<os user>) or an access
key id, so a student's key can be traced to everything it did; --resource
matches an id the request named or the response created (instance ids,
volume ids, user names for admin commands, ...). --since takes a date
(2026-03-01), a time (2026-03-01T14:00:00Z) or a duration back from now
(36h). A result "-" means the change began but its outcome was not
recorded (the server stopped, or the write failed). With --json, print one
JSON object per change and line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			flags := cmd.Flags()
			var f audit.Filter
			f.User, _ = flags.GetString("user")
			f.Action, _ = flags.GetString("action")
			f.Resource, _ = flags.GetString("resource")
			if s, _ := flags.GetString("since"); s != "" {
				if f.Since, err = audit.ParseSince(s, time.Now()); err != nil {
					return err
				}
			}
			entries, bad, err := audit.Read(cfg.AuditDir())
			if err != nil {
				return err
			}
			if bad > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d lines of the audit log are not entries and were skipped\n", bad)
			}
			var changes []*audit.Change
			for _, c := range audit.Changes(entries) {
				if f.Match(c) {
					changes = append(changes, c)
				}
			}
			return printChanges(cmd, changes)
		},
	}
	cmd.Flags().String("user", "", "only changes by user `NAME` or access key id")
	cmd.Flags().String("since", "", "only changes at or after `T`")
	cmd.Flags().String("action", "", "only action `A` (e.g. RunInstances, user.add)")
	cmd.Flags().String("resource", "", "only changes naming resource `ID`")
	addJSONFlag(cmd)
	return cmd
}

func printChanges(cmd *cobra.Command, changes []*audit.Change) error {
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		enc := json.NewEncoder(out)
		for _, c := range changes {
			if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUSER\tSOURCE\tACTION\tRESOURCES\tRESULT\tREQUEST ID")
	for _, c := range changes {
		result := orDash(c.Result)
		if c.Error != "" {
			result += ": " + c.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Time.Format(time.RFC3339), c.User, orDash(c.Source), c.Action,
			orDash(strings.Join(c.Resources, ",")), result, c.RequestID)
	}
	return tw.Flush()
}

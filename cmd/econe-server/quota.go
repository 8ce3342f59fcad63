package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/spf13/cobra"
)

// quotaFlagUsage documents each limit's flag of quota set; the word in
// backquotes names its value.
var quotaFlagUsage = map[string]string{
	"max_instances":          "at most `N` instances not terminated (stopped ones count only with quota.count_stopped_instances)",
	"max_vcpus":              "at most `N` vCPUs in those instances",
	"max_addresses":          "at most `N` elastic IP addresses held",
	"max_key_pairs":          "at most `N` key pairs",
	"max_security_groups":    "at most `N` security groups",
	"max_volumes":            "at most `N` EBS volumes",
	"max_volume_gib":         "at most `N` GiB in those volumes",
	"max_snapshots":          "at most `N` snapshots",
	"max_vpcs":               "at most `N` VPCs, the default VPC included",
	"max_prefix_lists":       "at most `N` customer-managed prefix lists",
	"max_network_interfaces": "at most `N` network interfaces created (CreateNetworkInterface; an instance's own is not counted)",
	"instance_types":         "only these instance `TYPES`, comma-separated (e.g. t3.micro,m1.small); \"\" allows all",
	"images":                 "only these image ids (`AMIS`), comma-separated (e.g. ami-…,ami-…); \"\" allows all",
	"budget":                 "money to spend, an `AMOUNT` such as 50.00 in the templates' price_per_hour currency; once spent, launches and starts are refused",
	"max_running_hours":      "stop an instance that has run `H` hours (H >= 1)",
}

func newQuotaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "Set, show and remove students' limits (works whether or not the server is running)",
		Long: `Limits decide what a student may hold: instances, vCPUs, elastic IPs, key
pairs, security groups, volumes and their GiB, snapshots, the instance types
and images they may launch, a budget and how long an instance may run.

A student's limit comes from, highest first: their own override (quota set
NAME), their group's override (quota set --group GROUP), their group's keys
in the configuration (groups.GROUP.max_instances, ...), and the quota:
section of the configuration (a new AWS account's limits unless changed).

Like the user commands, these go through the running server's admin socket,
or open the data directory when the server is stopped; changes apply to the
next request.`,
	}
	cmd.AddCommand(newQuotaSetCmd(), newQuotaShowCmd(), newQuotaUnsetCmd())
	return cmd
}

// quotaTarget reads (NAME | --group GROUP).
func quotaTarget(cmd *cobra.Command, args []string) (admin.QuotaTarget, error) {
	group, _ := cmd.Flags().GetString("group")
	switch {
	case group != "" && len(args) == 0:
		return admin.QuotaTarget{Group: group}, admin.ValidName("group", group)
	case group == "" && len(args) == 1:
		return admin.QuotaTarget{User: args[0]}, admin.ValidName("user", args[0])
	}
	return admin.QuotaTarget{}, fmt.Errorf("name one user NAME or one --group GROUP, got %d arguments and group %q", len(args), group)
}

func newQuotaSetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set (NAME | --group GROUP) [--max-instances N] [--max-vcpus N] ...",
		Short: "Override limits of one student or one group",
		Long: `Override limits of the user NAME (who must exist) or of every student of
GROUP. Only the limits given change; the others keep their value. A count of
0 allows none. Show the result with "econe-server quota show NAME".`,
		Example: `  econe-server quota set --group cs61c --max-instances 4 --instance-types t3.micro,m1.small --budget 50
  econe-server quota set alice --max-instances 6`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := quotaTarget(cmd, args)
			if err != nil {
				return err
			}
			var l quota.Limits
			for _, key := range quota.Keys() {
				f := cmd.Flags().Lookup(quota.Flag(key))
				if !f.Changed {
					continue
				}
				if err := l.Parse(key, f.Value.String()); err != nil {
					return fmt.Errorf("--%s: %w", f.Name, err)
				}
			}
			if l.Empty() {
				return fmt.Errorf("nothing to set: give at least one limit flag (see --help)")
			}
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				now, err := svc.SetQuota(target, l)
				if err != nil {
					return err
				}
				printOverride(cmd.OutOrStdout(), target, now)
				return nil
			})
		},
	}
	cmd.Flags().String("group", "", "override the limits of `GROUP` instead of one user")
	for _, key := range quota.Keys() {
		cmd.Flags().String(quota.Flag(key), "", quotaFlagUsage[key])
	}
	return cmd
}

func newQuotaUnsetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unset (NAME | --group GROUP) (--max-instances ... | --all)",
		Short: "Remove overrides, so the group's or the configuration's limits apply again",
		Long: `Remove the named overrides (e.g. --max-instances --budget) of the user NAME
or of GROUP, or all of them with --all. Limits set in the configuration file
(groups.GROUP.…, quota.…) are not changed: edit the file for those.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := quotaTarget(cmd, args)
			if err != nil {
				return err
			}
			all, _ := cmd.Flags().GetBool("all")
			var keys []string
			for _, key := range quota.Keys() {
				if on, _ := cmd.Flags().GetBool(quota.Flag(key)); on {
					keys = append(keys, key)
				}
			}
			if all == (len(keys) > 0) {
				return fmt.Errorf("give the limits to remove (e.g. --max-instances) or --all, not both")
			}
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				now, err := svc.UnsetQuota(target, keys)
				if err != nil {
					return err
				}
				printOverride(cmd.OutOrStdout(), target, now)
				return nil
			})
		},
	}
	cmd.Flags().String("group", "", "remove overrides of `GROUP` instead of one user")
	cmd.Flags().Bool("all", false, "remove every override of the user or group")
	for _, key := range quota.Keys() {
		cmd.Flags().Bool(quota.Flag(key), false, "remove the override of "+key)
	}
	return cmd
}

// printOverride shows what the target's override holds now.
func printOverride(w io.Writer, t admin.QuotaTarget, l *quota.Limits) {
	var set []string
	for _, key := range quota.Keys() {
		if l.IsSet(key) {
			set = append(set, key+"="+l.Format(key))
		}
	}
	if len(set) == 0 {
		fmt.Fprintf(w, "%s has no quota override\n", t)
		return
	}
	fmt.Fprintf(w, "%s overrides: %s\n", t, strings.Join(set, " "))
}

func newQuotaShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a student's effective limits, where each comes from, and current usage",
		Long: `Show the limits that apply to the user NAME and, for each, where it comes
from: "default" (the quota: section of the configuration), "group config"
(groups.GROUP in the configuration), "group override" (quota set --group) or
"user override" (quota set NAME). "unlimited" and "any" mean no limit.
USED is what the student holds now (instances counted as for the limit)
and, next to budget, what they have spent so far.
With --json, print one JSON object {"user", "group", "limits", "sources", "usage"}.`,
		Args: userNameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				rep, err := svc.ShowQuota(args[0])
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return printJSON(cmd.OutOrStdout(), rep)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s, group %s\n", rep.User, orDash(rep.Group))
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "LIMIT\tVALUE\tFROM\tUSED")
				for _, key := range quota.Keys() {
					used := ""
					if rep.Usage != nil {
						used = rep.Usage.Used(key)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", key, rep.Limits.Format(key), rep.Sources[key], orDash(used))
				}
				return tw.Flush()
			})
		},
	}
	addJSONFlag(cmd)
	return cmd
}

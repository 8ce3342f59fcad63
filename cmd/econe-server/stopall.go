package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/guard"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

func newStopAllCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stop-all (--user NAME | --group GROUP | --all) [--terminate]",
		Short: "Kill switch: stop (or terminate) every running instance of a student, a group or everyone",
		Long: `Stop every running instance of one student (--user), of one group (--group), or
of everyone (--all, which must be given explicitly). With --terminate, terminate
them instead, stopped ones included; their volumes and addresses are released as
TerminateInstances does.

The instances show the state reason Server.ScheduledStop and the transition
reason "Server initiated (TIME)"; the usage ledger closes their running
intervals when they stop. The command is recorded in the audit log as
admin:<os user> with the instances it changed, and prints each of them.
Running it again changes nothing that is already stopped.

Like the user commands, it goes through the running server's admin socket, or
opens the data directory (and the backend) when the server is stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var t guard.Target
			t.User, _ = cmd.Flags().GetString("user")
			t.Group, _ = cmd.Flags().GetString("group")
			t.All, _ = cmd.Flags().GetBool("all")
			terminate, _ := cmd.Flags().GetBool("terminate")
			if err := t.Check(); err != nil {
				return err
			}
			cfg, _, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			svc, closeFn, err := openStopAll(cfg)
			if err != nil {
				return err
			}
			defer closeFn()
			rep, err := svc.StopAll(t, terminate)
			if err != nil {
				return err
			}
			if err := printStopReport(cmd, rep); err != nil {
				return err
			}
			if len(rep.Errors) > 0 {
				return fmt.Errorf("%d instance(s) could not be changed; run stop-all again", len(rep.Errors))
			}
			return nil
		},
	}
	cmd.Flags().String("user", "", "the student `NAME` whose instances to stop")
	cmd.Flags().String("group", "", "the `GROUP` whose students' instances to stop")
	cmd.Flags().Bool("all", false, "every student's instances")
	cmd.Flags().Bool("terminate", false, "terminate the instances instead of stopping them")
	addJSONFlag(cmd)
	return cmd
}

// openStopAll is openAdmin with the backend behind it when no server runs.
func openStopAll(cfg *conf.Config) (admin.StopService, func(), error) {
	svc, closeFn, err := openAdmin(cfg)
	if err != nil {
		return nil, nil, err
	}
	audited, local := svc.(admin.Audited)
	if !local {
		return svc, closeFn, nil
	}
	users := audited.Service.(*admin.Users)
	instances, err := app.OpenService(cfg, users.Store, zerolog.New(os.Stderr).Level(zerolog.WarnLevel), nil, nil)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	users.Instances = instances
	return audited, func() { instances.Backend.Close(); closeFn() }, nil
}

func printStopReport(cmd *cobra.Command, rep *guard.Report) error {
	if jsonFlag(cmd) {
		return printJSON(cmd.OutOrStdout(), rep)
	}
	verb := "stopped"
	if rep.Terminate {
		verb = "terminated"
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	if len(rep.Instances) > 0 {
		fmt.Fprintln(tw, "USER\tINSTANCE\tPREVIOUS\tNOW")
	}
	for _, s := range rep.Instances {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Owner, s.InstanceID, s.Previous, s.Current)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %d instance(s) of %s\n", verb, len(rep.Instances), rep.Target)
	for _, e := range rep.Errors {
		fmt.Fprintln(cmd.ErrOrStderr(), "not changed:", e)
	}
	return nil
}

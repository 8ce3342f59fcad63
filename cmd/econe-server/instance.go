package main

import (
	"fmt"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/spf13/cobra"
)

func newInstanceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "instance", Short: "Look at students' instances"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show an instance: econe's id, the student's, and the backend's id",
		Long: `Show one instance by econe's id (i-…, what the student sees) or by the
backend's id (on the ec2 backend, the AWS instance id in the console): its
owner and group, both ids, state, type, zone and addresses.

Like the user commands, this reads the running server's store through its
admin socket, or the data directory when the server is stopped.`,
		Example: `  econe-server instance show i-0a1b2c3d4e5f60001`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				in, err := svc.Instance(args[0])
				if err != nil {
					return err
				}
				owner := in.Owner
				if in.Group != "" {
					owner += " (group " + in.Group + ")"
				}
				backendID := in.BackendID
				if backendID == "" {
					backendID = "- (the backend has not answered the launch)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "instance:    %s\nowner:       %s\nbackend:     %s\nbackend id:  %s\nstate:       %s\ntype:        %s\nzone:        %s\nprivate ip:  %s\npublic ip:   %s\n",
					in.ID, owner, in.Backend, backendID, in.State, in.Type, in.Zone, orDash(in.PrivateIP), orDash(in.PublicIP))
				return nil
			})
		},
	})
	return cmd
}

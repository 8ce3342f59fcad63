// Command econe-server is the EC2 Query API-compatible endpoint: the
// server itself (run, start, stop, status), its configuration check, and
// user administration.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/econe/econe-server/conf"
	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// defaultConfigFile is used when -c is not given and it exists in the
// working directory; otherwise the built-in defaults apply.
const defaultConfigFile = "econe.yaml"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// exitCode is an error that only sets the exit status: the command has
// already said what it had to.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// execute runs the command line and returns the exit status.
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintln(stderr, "econe-server:", err)
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "econe-server",
		Short: "An EC2 Query API-compatible endpoint for classes",
		Long: `econe-server answers the EC2 Query API, so that the stock AWS CLI, boto3,
aws-sdk-go-v2 and boto 2 tools work against it unchanged.

Start it with "econe-server start", create a student with
"econe-server user add NAME", and point their AWS CLI at it with --endpoint-url.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringP("config", "c", "", "configuration `FILE` (default: "+defaultConfigFile+" in the working directory if present, else built-in defaults)")
	root.AddCommand(newRunCmd(), newStartCmd(), newStopCmd(), newStatusCmd(),
		newCheckConfigCmd(), newVersionCmd(), newUserCmd(), newAuditCmd(), newQuotaCmd(), newUsageCmd(), newStopAllCmd(), newStoreCmd(), newInstanceCmd())
	return root
}

// configPath is the file the command line selects; "" means the defaults.
func configPath(cmd *cobra.Command) (string, error) {
	if f := cmd.Flags().Lookup("config"); f != nil && f.Changed {
		return f.Value.String(), nil
	}
	switch _, err := os.Stat(defaultConfigFile); {
	case err == nil:
		return defaultConfigFile, nil
	case errors.Is(err, os.ErrNotExist):
		return "", nil
	default:
		return "", err
	}
}

// loadConfig loads and validates the selected configuration.
func loadConfig(cmd *cobra.Command) (*conf.Config, string, error) {
	path, err := configPath(cmd)
	if err != nil {
		return nil, "", err
	}
	cfg, err := conf.Load(path)
	if err != nil {
		return nil, path, configError(err)
	}
	return cfg, path, nil
}

// configError lists every configuration problem, one per line.
func configError(err error) error {
	var b strings.Builder
	b.WriteString("configuration problems:")
	for _, line := range strings.Split(err.Error(), "\n") {
		b.WriteString("\n  " + line)
	}
	return errors.New(b.String())
}

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "Validate the configuration and exit",
		Long: `Load the configuration (see --config) strictly, as the server would, and
print "configuration OK", or every problem with its file, line and key
(exit status 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, path, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if path == "" {
				path = "built-in defaults"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "configuration OK (%s)\n", path)
			return nil
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "econe-server %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

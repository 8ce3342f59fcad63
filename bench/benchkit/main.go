// Command benchkit holds the pieces of bench/compare.sh that ec2load
// (../shared/tools) does not offer:
//
//	benchkit wrk-lua -endpoint URL -key K -secret S [-id ID] [-filter N=V] -o FILE
//	    a wrk script replaying one SigV4-signed DescribeInstances, as the
//	    SDKs send it: of one instance by id (InstanceId.1), or of all the
//	    key's instances, with an optional filter
//	benchkit wrk-parse < wrk-output
//	    wrk --latency's output as "rps= p50_ms= p99_ms= done= err=" (key=value)
//	benchkit lab -endpoint URL -keys FILE [-launches 2 -within 5s -poll 1s -timeout 60s]
//	    the start of a lab: every student launches instances at random moments
//	    within the window, then polls DescribeInstances of their own instances
//	    once a second until all are running
//	benchkit settle -endpoint URL -keys FILE [-c 8 -page 50]
//	    every student describes all of their instances once, page by page,
//	    so that the boots since their launches are recorded
//	benchkit report -in ROWS -json FILE -md FILE
//	    the rows (key=value lines) as a table on stdout, JSON and markdown
//	benchkit ports N
//	    N free loopback TCP ports
//
// Loopback only; every loop is bounded by its timeout.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchkit wrk-lua|wrk-parse|lab|settle|report|ports ...")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"wrk-lua":   wrkLua,
		"wrk-parse": func([]string) error { return wrkParse(os.Stdin, os.Stdout) },
		"lab":       lab,
		"settle":    settle,
		"report":    report,
		"ports":     ports,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "benchkit: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchkit %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

package main

import (
	"fmt"
	"io"
	"time"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
)

// replicaStatus completes the server's fixed status with its store, its
// role and the replicas it sees.
func replicaStatus(fixed admin.Status, a *app.App) admin.Status {
	st := fixed
	st.Store, st.Role, st.Replica = a.Config.Store.Driver, a.Role(), a.ReplicaID
	replicas, err := a.Replicas()
	st.Replicas = replicas
	if err != nil {
		st.ReplicasError = err.Error()
	}
	return st
}

// printReplicas shows the store, the role and the other replicas.
func printReplicas(out io.Writer, st *admin.Status) {
	if st.Store == "" {
		return // an older server
	}
	fmt.Fprintf(out, "  store:    %s\n  role:     %s\n", st.Store, st.Role)
	if st.ReplicasError != "" {
		fmt.Fprintf(out, "  replicas: cannot read them: %s\n", st.ReplicasError)
	}
	for _, r := range st.Replicas {
		self := ""
		if r.ID == st.Replica {
			self = " (this one)"
		}
		fmt.Fprintf(out, "  replica:  %s %s %s, seen %s%s\n", r.ID, r.Address, r.Role, r.Seen.Format(time.RFC3339), self)
	}
}

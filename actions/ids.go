package actions

import (
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// The one check of an id's form, for every resource type: EC2 answers a
// malformed id with the type's *.Malformed code before looking anything up.

// requiredID reads a required id parameter and checks its form: a missing
// one is MissingParameter, a malformed one the given *.Malformed code.
func requiredID(p *query.Params, name, prefix, malformed string) (string, error) {
	id, err := p.Required(name)
	if err != nil {
		return "", err
	}
	return id, checkIDs([]string{id}, prefix, malformed)
}

// checkIDs rejects ids that are not prefix-<8 or 17 hex digits>.
func checkIDs(ids []string, prefix, malformed string) error {
	for _, id := range ids {
		if !store.ValidID(prefix, id) {
			return ec2err.New(malformed, "Invalid id: %q (expecting \"%s-...\")", id, prefix)
		}
	}
	return nil
}

package actions

import "fmt"

// families lists every action family's table; each file declares its own.
var families = []map[string]Handler{
	regionActions,
	instanceActions,
	imageActions,
	tagActions,
	keyPairActions,
	securityGroupActions,
	volumeActions,
	snapshotActions,
	addressActions,
}

// Table returns the Action name -> handler table. A name declared by two
// families is a programming error and panics at start-up.
func Table() map[string]Handler {
	t := map[string]Handler{}
	for _, f := range families {
		for name, h := range f {
			if _, dup := t[name]; dup {
				panic(fmt.Sprintf("actions: %s declared twice", name))
			}
			t[name] = h
		}
	}
	return t
}

package store

// PrefixList is a student's customer-managed prefix list (pl-…): a named
// set of CIDR blocks of one address family that security group rules may
// name as their peer. Each change of its entries makes a new version;
// only the current version's entries are kept. State is EC2's
// (create-complete, modify-complete, delete-failed), StateMessage why.
type PrefixList struct {
	ID            string            `json:"id"`
	Owner         string            `json:"owner"`
	Name          string            `json:"name"`
	AddressFamily string            `json:"address_family"` // IPv4 | IPv6
	MaxEntries    int               `json:"max_entries"`
	Version       int64             `json:"version"`
	Entries       []PrefixListEntry `json:"entries,omitempty"`
	State         string            `json:"state"`
	StateMessage  string            `json:"state_message,omitempty"`
}

// PrefixListEntry is one CIDR block of a prefix list.
type PrefixListEntry struct {
	CIDR        string `json:"cidr"`
	Description string `json:"description,omitempty"`
}

// GetPrefixList loads one of the user's prefix lists; nil when absent.
func GetPrefixList(tx Tx, owner, id string) (*PrefixList, error) {
	return GetOwned[PrefixList](tx, BucketPrefixLists, owner, id)
}

// PutPrefixList stores a prefix list, counted for the owner.
func PutPrefixList(tx Tx, pl *PrefixList) error {
	return counted(tx, BucketPrefixLists, pl.Owner, pl.ID, pl, countPrefixList)
}

// DeletePrefixList removes a prefix list (absent is fine).
func DeletePrefixList(tx Tx, owner, id string) error {
	return counted[PrefixList](tx, BucketPrefixLists, owner, id, nil, countPrefixList)
}

// ListPrefixLists returns all of the user's prefix lists in id order.
func ListPrefixLists(tx Tx, owner string) ([]*PrefixList, error) {
	return ListOwned[PrefixList](tx, BucketPrefixLists, owner)
}

func countPrefixList(pl *PrefixList) Counters { return present(pl, Counters{PrefixLists: 1}) }

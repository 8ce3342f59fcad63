package store

import "time"

// Replica is one server's heartbeat: every replica sharing a store writes
// its own every few seconds, so each can show the others.
type Replica struct {
	ID      string    `json:"id"` // HOST/PID
	Address string    `json:"address"`
	Role    string    `json:"role"` // leader or follower
	Started time.Time `json:"started"`
	Seen    time.Time `json:"seen"`
}

// PutReplica records r's heartbeat and deletes the heartbeats last seen
// before forgetBefore (replicas long gone).
func PutReplica(tx Tx, r *Replica, forgetBefore time.Time) error {
	var gone []string
	if err := ScanJSON(tx, BucketReplicas, "", func(key string, o *Replica) error {
		if o.Seen.Before(forgetBefore) {
			gone = append(gone, key)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, key := range gone {
		if err := tx.Delete(BucketReplicas, key); err != nil {
			return err
		}
	}
	return PutJSON(tx, BucketReplicas, r.ID, r)
}

// ListReplicas returns the heartbeats seen at or after since, by id.
func ListReplicas(tx Tx, since time.Time) ([]Replica, error) {
	var out []Replica
	err := ScanJSON(tx, BucketReplicas, "", func(_ string, r *Replica) error {
		if !r.Seen.Before(since) {
			out = append(out, *r)
		}
		return nil
	})
	return out, err
}

package postgres

// PrefixEnd and PageSize are exported for the package's tests.
var PrefixEnd = prefixEnd

const PageSize = pageSize

// Queued is how many update functions wait for a batch.
func (s *Store) Queued() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.queue)
}

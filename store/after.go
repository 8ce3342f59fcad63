package store

// Gated is a Store whose updates can wait for a condition before they
// commit, while their functions already run (the contract: UpdateAfter).
type Gated interface {
	// UpdateAfter is Update, except that nothing of fn is committed
	// before wait returns nil; when wait returns an error, nothing of fn
	// is committed and UpdateAfter returns that error.
	UpdateAfter(wait func() error, fn func(Tx) error) error
}

// After returns s with every update committed only once wait returned nil
// (the server: once the request's audit entry is durable), so that the
// condition and the updates' own work overlap. A store that is not Gated
// waits for the condition first. wait may be called many times and must
// return the same result each time.
func After(s Store, wait func() error) Store { return after{s, wait} }

type after struct {
	Store
	wait func() error
}

func (a after) Update(fn func(Tx) error) error {
	if g, ok := a.Store.(Gated); ok {
		return g.UpdateAfter(a.wait, fn)
	}
	if err := a.wait(); err != nil {
		return err
	}
	return a.Store.Update(fn)
}

// ViewRefs keeps the wrapped store's ability: views do not wait.
func (a after) ViewRefs(refs []Ref, fn func(Tx) error) error { return ViewRefs(a.Store, refs, fn) }

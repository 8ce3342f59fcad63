package store

import "errors"

// ErrUnavailable means the store could not be reached (a PostgreSQL
// database that is down or cut off): the transaction was not carried out
// and may be tried again later. Drivers wrap it with their own detail.
var ErrUnavailable = errors.New("store: the database is unreachable")

// ErrBusy means an update gave up on concurrent updates (it kept
// conflicting with them, or waited too long for its turn): it was not
// carried out, and may be tried again at once.
var ErrBusy = errors.New("store: busy with concurrent updates")

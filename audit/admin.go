package audit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/user"
	"time"
)

// AdminActor is how an admin command's user is recorded: "admin:<os user>".
func AdminActor(osUser string) string { return "admin:" + osUser }

// CurrentOSUser names the user running this process (uid N if unknown).
func CurrentOSUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// OSUserName names a uid ("uid 1001" when it has no name).
func OSUserName(uid uint32) string {
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", uid)
}

// Record runs an admin command fn between its request and result entries,
// as the API does: if the request entry cannot be written, fn does not run
// and the error says auditing failed. actor is AdminActor's form, source
// where the command came from ("cli", "admin socket"), action e.g.
// "user.add" or "quota.set", resources what it acts on (user names); fn
// returns what it created that the result entry names (an access key id).
func (l *Log) Record(actor, source, action string, resources []string, fn func() (created []string, err error)) error {
	e := Entry{Phase: PhaseRequest, RequestID: newID(), User: actor, Source: source, Action: action, Resources: resources}
	if err := l.Write(&e); err != nil {
		return fmt.Errorf("refused because auditing failed (nothing was changed): %w", err)
	}
	created, err := fn()
	e.Time, e.Phase, e.Result, e.Resources = time.Time{}, PhaseResult, Success, created
	if err != nil {
		e.Result, e.Error = "Error", err.Error()
	}
	if werr := l.Write(&e); werr != nil {
		l.opt.Log.Error().Err(werr).Str("request_id", e.RequestID).Str("action", action).Str("result", e.Result).
			Msg("audit: the result entry of a completed admin command could not be written")
	}
	return err
}

// newID is a random request id for admin commands (API calls have theirs).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "admin-" + hex.EncodeToString(b[:])
}

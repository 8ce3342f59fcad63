package server

import (
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// termEnded refuses the keys of a group whose term is over. It runs after
// the signature is verified, so only the key's owner learns why; the
// student's data stays, for reports and admin commands.
func (s *Server) termEnded(u *store.User) error {
	end, ok := s.cfg.TermEnd(u.Group)
	if !ok || s.clock().Before(end) {
		return nil
	}
	return ec2err.New(ec2err.AuthFailure,
		"The term of your course (group %s) has ended: its last day was %s, and its keys stopped working at %s. Your data is kept; ask your instructor if you still need access.",
		u.Group, s.cfg.Groups[u.Group].TermEnd, end.Format("2006-01-02 15:04 MST"))
}

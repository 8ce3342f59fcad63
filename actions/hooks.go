package actions

import "errors"

// onTerminate releases what an instance held when it is terminated: its
// volumes are detached (and DeleteOnTermination ones deleted) and its
// elastic address disassociated (running the admin's script), and so are
// those of its interfaces that go with it. Each family
// implements its part in its own file; TerminateInstances calls this once
// per terminated instance, after the state change is committed.
func (s *Service) onTerminate(r *Request, instanceIDs []string) error {
	if err := s.releaseVolumes(r, instanceIDs); err != nil {
		return err
	}
	return errors.Join(s.releaseAddresses(r, instanceIDs), s.releaseInterfaceAddresses(r, instanceIDs))
}

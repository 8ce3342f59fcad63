package actions

// GetInstanceUefiData answers an instance's UEFI variable store. The
// images served here carry none (DescribeImageAttribute uefiData is
// empty), so no instance has any: EC2 answers such an instance with its
// id and an empty uefiData.

type instanceUefiDataResponse struct {
	Meta
	InstanceID string `xml:"instanceId"`
	UefiData   string `xml:"uefiData"`
}

func (s *Service) getInstanceUefiData(r *Request) (any, error) {
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	return &instanceUefiDataResponse{InstanceID: inst.ID}, nil
}

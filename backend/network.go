package backend

// Network is the optional ability of a backend whose students' default
// VPC is a network of its cloud (real EC2: the course's). The answer is
// found when the backend starts and never changes, so callers read it
// inside their transactions.
type Network interface {
	DefaultNetwork() DefaultNetwork
}

// DefaultNetwork is the range of a student's default VPC and, per
// availability zone, the range of its default subnet (a zone without one
// is left out). A zero DefaultNetwork means the backend found none.
type DefaultNetwork struct {
	CIDR    string
	Subnets map[string]string
}

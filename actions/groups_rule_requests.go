package actions

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Rules in requests: IpPermissions.N and the legacy flat form (IpProtocol,
// FromPort, ToPort, CidrIp, SourceSecurityGroupName) decoded into rules,
// their group peers resolved among the student's groups.

// ruleRequest is a rule as asked for: a group peer is named by id or name
// until resolved inside the transaction.
type ruleRequest struct {
	store.Rule
	peerName   string
	peerUserID string
}

// parseRuleRequests decodes IpPermissions.N and the legacy flat form
// (IpProtocol, FromPort, ToPort, CidrIp; SourceSecurityGroupName[/OwnerId]).
func parseRuleRequests(p *query.Params, egress bool) ([]ruleRequest, error) {
	var out []ruleRequest
	for _, perm := range p.Structs("IpPermissions") {
		rules, err := parsePermission(perm)
		if err != nil {
			return nil, err
		}
		out = append(out, rules...)
	}
	flat, err := parseFlatPermission(p, egress)
	if err != nil {
		return nil, err
	}
	out = append(out, flat...)
	if len(out) == 0 {
		return nil, ec2err.Missing("IpPermissions")
	}
	return out, nil
}

func parsePermission(perm *query.Params) ([]ruleRequest, error) {
	base, err := parseProtocolPorts(perm)
	if err != nil {
		return nil, err
	}
	var out []ruleRequest
	add := func(param string, set func(*ruleRequest, *query.Params) error) error {
		for _, peer := range perm.Structs(param) {
			rr := ruleRequest{Rule: base}
			var err error
			if rr.Description, err = ruleDescription(peer, param+".Description"); err != nil {
				return err
			}
			if err := set(&rr, peer); err != nil {
				return err
			}
			out = append(out, rr)
		}
		return nil
	}
	steps := []struct {
		param string
		set   func(*ruleRequest, *query.Params) error
	}{
		{"IpRanges", func(rr *ruleRequest, q *query.Params) (err error) {
			rr.CIDRv4, err = parseCIDR(q, "CidrIp", false)
			return err
		}},
		{"Ipv6Ranges", func(rr *ruleRequest, q *query.Params) (err error) {
			rr.CIDRv6, err = parseCIDR(q, "CidrIpv6", true)
			return err
		}},
		{"PrefixListIds", func(rr *ruleRequest, q *query.Params) (err error) {
			rr.PrefixListID, err = parsePrefixListID(q)
			return err
		}},
		{"Groups", func(rr *ruleRequest, q *query.Params) error {
			rr.GroupID, rr.peerName, rr.peerUserID = q.String("GroupId"), q.String("GroupName"), q.String("UserId")
			if rr.GroupID == "" && rr.peerName == "" {
				return ec2err.Missing("IpPermissions.Groups.GroupId")
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := add(st.param, st.set); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, ec2err.New(ec2err.MissingParameter, "The permission for protocol %s names no source or destination: give IpRanges, Ipv6Ranges, PrefixListIds or Groups.", base.Protocol)
	}
	return out, nil
}

// classicGroupGrant is what EC2-Classic meant by a group pair without
// protocol and ports: all TCP, UDP and ICMP traffic from that group.
var classicGroupGrant = []store.Rule{
	{Protocol: "tcp", FromPort: 0, ToPort: 65535},
	{Protocol: "udp", FromPort: 0, ToPort: 65535},
	{Protocol: "icmp", FromPort: -1, ToPort: -1},
}

func parseFlatPermission(p *query.Params, egress bool) ([]ruleRequest, error) {
	source := p.String("SourceSecurityGroupName")
	cidr := p.String("CidrIp")
	if source == "" && cidr == "" && !p.Has("IpProtocol") {
		return nil, nil
	}
	if egress && source != "" {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "SourceSecurityGroupName is not supported for egress rules: use IpPermissions with Groups.")
	}
	if source != "" && !p.Has("IpProtocol") {
		out := make([]ruleRequest, len(classicGroupGrant))
		for i, base := range classicGroupGrant {
			out[i] = ruleRequest{Rule: base, peerName: source, peerUserID: p.String("SourceSecurityGroupOwnerId")}
		}
		return out, nil
	}
	base, err := parseProtocolPorts(p)
	if err != nil {
		return nil, err
	}
	if source != "" {
		return []ruleRequest{{Rule: base, peerName: source, peerUserID: p.String("SourceSecurityGroupOwnerId")}}, nil
	}
	if cidr == "" {
		return nil, ec2err.New(ec2err.MissingParameter, "The rule names no source: give CidrIp or SourceSecurityGroupName (or use IpPermissions).")
	}
	rr := ruleRequest{Rule: base}
	rr.CIDRv4, err = parseCIDR(p, "CidrIp", false)
	return []ruleRequest{rr}, err
}

// protocolNames maps the protocol numbers EC2 names to their names.
var protocolNames = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}

// parseProtocolPorts reads IpProtocol, FromPort and ToPort with EC2's
// rules: TCP and UDP need both ports, ICMP takes type and code (-1 = any),
// other protocols have no ports.
func parseProtocolPorts(p *query.Params) (store.Rule, error) {
	raw, err := p.Required("IpProtocol")
	if err != nil {
		return store.Rule{}, err
	}
	proto := strings.ToLower(raw)
	if name, ok := protocolNames[proto]; ok {
		proto = name
	}
	if n, err := strconv.Atoi(proto); !hasPorts(proto) && proto != "-1" && (err != nil || n < 0 || n > 255) {
		return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid value '%s' for IP protocol. Unknown protocol: use tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0-255.", raw)
	}
	rule := store.Rule{Protocol: proto}
	if !hasPorts(proto) {
		return rule, nil
	}
	from, fromSent, err := p.OptionalInt("FromPort")
	if err != nil {
		return store.Rule{}, err
	}
	to, toSent, err := p.OptionalInt("ToPort")
	if err != nil {
		return store.Rule{}, err
	}
	if proto == "icmp" || proto == "icmpv6" {
		if !fromSent {
			from = -1
		}
		if !toSent {
			to = -1
		}
		if from < -1 || from > 255 || to < -1 || to > 255 {
			return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid ICMP type %d or code %d: each must be -1 (any) or 0-255.", from, to)
		}
		rule.FromPort, rule.ToPort = from, to
		return rule, nil
	}
	if !fromSent || !toSent {
		return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
	}
	if from < 0 || to > 65535 || from > to {
		return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid %s port range %d-%d: ports are 0-65535 and FromPort must not exceed ToPort.", strings.ToUpper(proto), from, to)
	}
	rule.FromPort, rule.ToPort = from, to
	return rule, nil
}

func parseCIDR(p *query.Params, name string, v6 bool) (string, error) {
	v, err := p.Required(name)
	if err != nil {
		return "", err
	}
	ip, network, err := net.ParseCIDR(v)
	if err != nil || (ip.To4() == nil) != v6 {
		family := "IPv4"
		if v6 {
			family = "IPv6"
		}
		return "", ec2err.BadValue(name, v, "It must be an "+family+" CIDR block such as "+map[bool]string{false: "203.0.113.0/24", true: "2001:db8::/32"}[v6]+".")
	}
	if !ip.Equal(network.IP) {
		return "", ec2err.New(ec2err.InvalidParameterValue, "CIDR block %s is malformed: it has host bits set; did you mean %s?", v, network)
	}
	return v, nil
}

// resolvePeers turns group peers into the owner's group ids. A rule may
// refer only to the student's own groups: anyone else's is not found.
func resolvePeers(tx store.Tx, user *store.User, reqs []ruleRequest) ([]store.Rule, error) {
	out := make([]store.Rule, len(reqs))
	for i, rr := range reqs {
		rule := rr.Rule
		if rr.GroupID != "" || rr.peerName != "" {
			if rr.peerUserID != "" && strings.ReplaceAll(rr.peerUserID, "-", "") != user.AccountID {
				return nil, ec2err.New(ec2err.InvalidGroupNotFound, "The security group '%s%s' of account %s does not exist: rules may refer only to your own groups.", rr.GroupID, rr.peerName, rr.peerUserID)
			}
			g, err := findGroup(tx, user.Name, rr.GroupID, rr.peerName)
			if err != nil {
				return nil, err
			}
			rule.GroupID = g.ID
		}
		out[i] = rule
	}
	return out, nil
}

// describeRule names a rule in messages the way EC2 does.
func describeRule(r store.Rule, egress bool) string {
	peer := r.CIDRv4 + r.CIDRv6 + r.PrefixListID + r.GroupID
	dir := "ALLOW"
	if egress {
		dir = "ALLOW egress"
	}
	proto := strings.ToUpper(r.Protocol)
	if !hasPorts(r.Protocol) {
		return fmt.Sprintf("peer: %s, %s, %s", peer, proto, dir)
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, %s", peer, proto, r.FromPort, r.ToPort, dir)
}

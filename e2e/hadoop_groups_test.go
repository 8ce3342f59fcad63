package e2e

import (
	"context"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/econetest"
)

// The security group calls of the recorded hadoop-ec2 runs, replayed
// re-signed: every one must succeed, in the shape its API version expects.

// hadoopGroupXML is what the scripts' boto reads of a group.
type hadoopGroupXML struct {
	Name    string `xml:"groupName"`
	VpcID   string `xml:"vpcId"`
	Ingress []struct {
		Protocol string `xml:"ipProtocol"`
		From     string `xml:"fromPort"`
		To       string `xml:"toPort"`
		Groups   []struct {
			UserID string `xml:"userId"`
			Name   string `xml:"groupName"`
		} `xml:"groups>item"`
		CIDRs []string `xml:"ipRanges>item>cidrIp"`
	} `xml:"ipPermissions>item"`
}

// rules renders a group's ingress as sorted "proto from-to peer" lines.
func (g hadoopGroupXML) rules() string {
	var out []string
	for _, p := range g.Ingress {
		for _, c := range p.CIDRs {
			out = append(out, fmt.Sprintf("%s %s-%s %s", p.Protocol, p.From, p.To, c))
		}
		for _, gr := range p.Groups {
			out = append(out, fmt.Sprintf("%s %s-%s group:%s", p.Protocol, p.From, p.To, gr.Name))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func TestHadoopTraceSecurityGroups(t *testing.T) {
	t.Parallel()
	hadoopTraceSecurityGroups(t, econetest.Start(t))
}

func hadoopTraceSecurityGroups(t *testing.T, e *econetest.Env) {
	traces := []struct {
		file, version string
		classic       bool // 2010-08-31 predates VPCs: no vpcId, no egress
	}{
		{"hadoop-ec2-boto-2.0b3-trace.jsonl", "2010-08-31", true},
		{"hadoop-ec2-boto-2.49-trace.jsonl", "2014-10-01", false},
	}
	for i, tr := range traces {
		t.Run(tr.version, func(t *testing.T) {
			creds := e.User(t, fmt.Sprintf("hadoop%d", i))
			rp := NewReplayer(e, creds)
			sent, replies := rp.Replay(t, LoadTrace(t, tr.file), func(te TraceEntry) bool {
				return strings.Contains(te.Action(), "SecurityGroup")
			})
			if len(sent) < 30 {
				t.Fatalf("got %d security group calls in %s, want the whole run", len(sent), tr.file)
			}
			var lastDescribe string
			for j, r := range replies {
				action := sent[j].Action()
				if r.status != 200 || r.code != "" {
					t.Fatalf("call %d %s: got %d %s %s, want success", j, action, r.status, r.code, r.message)
				}
				if !strings.Contains(r.body, `xmlns="http://ec2.amazonaws.com/doc/`+tr.version+`/"`) {
					t.Errorf("call %d %s: answer is not in the %s namespace: %s", j, action, tr.version, r.body)
				}
				if action != "DescribeSecurityGroups" && !strings.Contains(r.body, "<return>true</return>") {
					t.Errorf("call %d %s: got %s, want <return>true</return>", j, action, r.body)
				}
				if strings.Contains(r.body, "unknownIpPermissionSet") || strings.Contains(r.body, "securityGroupRuleSet") {
					t.Errorf("call %d %s: old clients got a current-version element: %s", j, action, r.body)
				}
				if action == "DescribeSecurityGroups" {
					lastDescribe = r.body
				}
			}
			checkClusterGroups(t, lastDescribe, tr.classic)
			// The run deletes every group it made: only the default one is left.
			left, err := e.EC2(creds).DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{})
			if err != nil || len(left.SecurityGroups) != 1 || *left.SecurityGroups[0].GroupName != "default" {
				t.Errorf("got %v, %v after the run; want only the default group", left, err)
			}
		})
	}
}

// checkClusterGroups reads the run's last DescribeSecurityGroups the way
// the scripts' boto does.
func checkClusterGroups(t *testing.T, body string, classic bool) {
	t.Helper()
	var doc struct {
		Groups []hadoopGroupXML `xml:"securityGroupInfo>item"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("DescribeSecurityGroups: %v\n%s", err, body)
	}
	byName := map[string]hadoopGroupXML{}
	for _, g := range doc.Groups {
		byName[g.Name] = g
	}
	want := map[string]string{
		"cs61c-ab-testing":     "icmp -1--1 group:cs61c-ab-testing; tcp 0-65535 group:cs61c-ab-testing; tcp 22-22 0.0.0.0/0; udp 0-65535 group:cs61c-ab-testing",
		"cs61c-ab-testing-nn":  "tcp 50070-50070 127.0.0.1/32; tcp 80-80 127.0.0.1/32; tcp 8020-8020 127.0.0.1/32",
		"cs61c-ab-testing-jt":  "tcp 50030-50030 127.0.0.1/32; tcp 8021-8021 127.0.0.1/32",
		"cs61c-ab-testing-snn": "",
		"default":              "",
	}
	for name, rules := range want {
		g, ok := byName[name]
		if !ok {
			t.Errorf("group %s missing from %s", name, body)
			continue
		}
		if name != "default" && g.rules() != rules {
			t.Errorf("group %s: got rules %q, want %q", name, g.rules(), rules)
		}
		if (g.VpcID == "") != classic {
			t.Errorf("group %s: got vpcId %q, want it only for VPC-era versions (classic=%v)", name, g.VpcID, classic)
		}
	}
	if classic && strings.Contains(body, "ipPermissionsEgress") {
		t.Errorf("2010-08-31 answer has ipPermissionsEgress, which boto 2.0b3 would read as ingress rules")
	}
}

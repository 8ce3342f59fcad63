package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

const debianAMI = "ami-0a1b2c3d4e5f60001"

func instanceIDsOf(rs []types.Reservation) []string {
	var out []string
	for _, r := range rs {
		for _, inst := range r.Instances {
			out = append(out, aws.ToString(inst.InstanceId))
		}
	}
	sort.Strings(out)
	return out
}

// TestInstancesWithSDK drives the whole lifecycle with aws-sdk-go-v2,
// including its waiters, and checks another student sees none of it.
func TestInstancesWithSDK(t *testing.T) {
	e := econetest.Start(t)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	c, ctx := e.EC2(alice), econetest.Context(t)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(debianAMI), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho secret-user-data\n"))),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("course"), Value: aws.String("cs61c")}}}},
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	ids := []string{aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)}
	sort.Strings(ids)
	fast := func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}
	if err := ec2.NewInstanceRunningWaiter(c, fast).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, 10*time.Second); err != nil {
		t.Fatalf("InstanceRunning waiter: %v", err)
	}
	got, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:course", "cs*"), filter("instance-state-name", "running")}})
	if err != nil || fmt.Sprint(instanceIDsOf(got.Reservations)) != fmt.Sprint(ids) {
		t.Fatalf("filtered describe: got %v, %v, want %v", instanceIDsOf(got.Reservations), err, ids)
	}
	inst := got.Reservations[0].Instances[0]
	if inst.State.Code == nil || *inst.State.Code != 16 || aws.ToString(inst.PublicDnsName) == "" || inst.LaunchTime == nil || len(inst.SecurityGroups) != 1 {
		t.Errorf("running instance: got state %v dns %q launch %v groups %v, want 16, an address, a time and the default group", inst.State.Code, aws.ToString(inst.PublicDnsName), inst.LaunchTime, inst.SecurityGroups)
	}
	if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	stopped := func(o *ec2.InstanceStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}
	if err := ec2.NewInstanceStoppedWaiter(c, stopped).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[:1]}, 10*time.Second); err != nil {
		t.Fatalf("InstanceStopped waiter: %v", err)
	}
	if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(ids[0]), InstanceType: &types.AttributeValue{Value: aws.String("t3.small")}}); err != nil {
		t.Errorf("modify instanceType while stopped: %v", err)
	}
	attr, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(ids[0]), Attribute: types.InstanceAttributeNameInstanceType})
	if err != nil || aws.ToString(attr.InstanceType.Value) != "t3.small" {
		t.Errorf("instanceType attribute: got %v, %v, want t3.small", attr, err)
	}
	console, err := c.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(ids[1])})
	if text, _ := base64.StdEncoding.DecodeString(aws.ToString(console.Output)); err != nil || !strings.Contains(string(text), ids[1]) {
		t.Errorf("console output: got %q, %v, want it to name %s", text, err, ids[1])
	}
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("node")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("key", "Name"), filter("resource-type", "instance")}})
	if err != nil || len(tags.Tags) != 2 {
		t.Errorf("DescribeTags: got %v, %v, want the 2 Name tags", tags, err)
	}

	instanceIsolation(t, e, bob, ids)

	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
	gone := func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}
	if err := ec2.NewInstanceTerminatedWaiter(c, gone).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, 10*time.Second); err != nil {
		t.Fatalf("InstanceTerminated waiter: %v", err)
	}
	if strings.Contains(e.Logs(), "secret-user-data") || strings.Contains(e.Logs(), base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho secret-user-data\n"))) {
		t.Errorf("user data reached the log")
	}
}

// instanceIsolation: alice's instances (ids, tagged) do not exist for bob,
// who has launched nothing, and he sees an empty world.
func instanceIsolation(t *testing.T, e *econetest.Env, bob *admin.Credentials, ids []string) {
	t.Helper()
	ctx := econetest.Context(t)
	bc := e.EC2(bob)
	checks := []struct {
		name string
		call func() error
		want string
	}{
		{"describe", func() error {
			_, err := bc.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[:1]})
			return err
		}, "InvalidInstanceID.NotFound"},
		{"terminate", func() error {
			_, err := bc.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]})
			return err
		}, "InvalidInstanceID.NotFound"},
		{"tag", func() error {
			_, err := bc.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids[:1], Tags: []types.Tag{{Key: aws.String("x")}}})
			return err
		}, "InvalidInstanceID.NotFound"},
		{"malformed id", func() error {
			_, err := bc.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-zz"}})
			return err
		}, "InvalidInstanceID.Malformed"},
		{"unknown filter", func() error {
			_, err := bc.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("colour", "red")}})
			return err
		}, "InvalidParameterValue"},
		{"unknown image", func() error {
			_, err := bc.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-00000000"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			return err
		}, "InvalidAMIID.NotFound"},
		{"dry run", func() error {
			_, err := bc.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), DryRun: aws.Bool(true)})
			return err
		}, "DryRunOperation"},
	}
	for _, ch := range checks {
		if code, status := apiError(ch.call()); code != ch.want || status >= 500 {
			t.Errorf("bob %s: got %s (HTTP %d), want %s (4xx)", ch.name, code, status, ch.want)
		}
	}
	if got, err := bc.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil || len(got.Reservations) != 0 {
		t.Errorf("bob's listing: got %v, %v, want nothing", got, err)
	}
	if got, err := bc.DescribeTags(ctx, &ec2.DescribeTagsInput{}); err != nil || len(got.Tags) != 0 {
		t.Errorf("bob's tags: got %v, %v, want none", got, err)
	}
}

func TestImagesAndInstanceTypesWithSDK(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte("images:\n  - id: ami-0123456789abcdef0\n    name: course-lab\n    owner_alias: cs61c\ninstance_types:\n  - name: lab.big\n    vcpus: 16\n    memory_mib: 65536\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := econetest.Start(t, func(c *conf.Config) { c.TemplatesDir = dir })
	c, ctx := e.EC2(e.User(t, "alice")), econetest.Context(t)
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"cs61c"}})
	if err != nil || len(imgs.Images) != 1 || aws.ToString(imgs.Images[0].Name) != "course-lab" {
		t.Errorf("images by owner: got %v, %v, want course-lab", imgs, err)
	}
	imgs, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "debian-*"), filter("architecture", "x86_64")}})
	if err != nil || len(imgs.Images) != 1 || aws.ToString(imgs.Images[0].ImageId) != debianAMI || imgs.Images[0].RootDeviceType != types.DeviceTypeEbs {
		t.Errorf("images by filter: got %v, %v, want debian-12", imgs, err)
	}
	if _, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-00000000"}}); apiCode(err) != "InvalidAMIID.NotFound" {
		t.Errorf("unknown image: got %v, want InvalidAMIID.NotFound", err)
	}
	var names []string
	pages := ec2.NewDescribeInstanceTypesPaginator(c, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(5)})
	for n := 0; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.InstanceTypes {
			names = append(names, string(it.InstanceType))
		}
	}
	if len(names) < 10 || !contains(names, "lab.big") || !contains(names, "t3.micro") {
		t.Errorf("instance types over pages: got %v, want the built-ins and lab.big", names)
	}
	big, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{Filters: []types.Filter{filter("vcpu-info.default-vcpus", "16")}})
	if err != nil || len(big.InstanceTypes) != 1 || aws.ToInt64(big.InstanceTypes[0].MemoryInfo.SizeInMiB) != 65536 {
		t.Errorf("types by vcpus: got %v, %v, want lab.big with 65536 MiB", big, err)
	}
	// A launch merges the admin's template with the student's request.
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: "lab.big", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil || run.Instances[0].InstanceType != "lab.big" {
		t.Errorf("launch of an admin type: got %v, %v", run, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInstancesWithAWSCLI: run-instances, describe-instances with
// --filters and --query, the instance-running waiter, terminate-instances.
func TestInstancesWithAWSCLI(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	var run struct {
		Instances []struct{ InstanceId string }
	}
	cliJSON(t, e, alice, &run, "ec2", "run-instances", "--image-id", debianAMI, "--instance-type", "t2.micro", "--count", "2",
		"--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=lab}]")
	if len(run.Instances) != 2 {
		t.Fatalf("run-instances --count 2: got %d instances", len(run.Instances))
	}
	id := run.Instances[0].InstanceId
	if _, err := e.CLI(t, alice, "ec2", "wait", "instance-running", "--instance-ids", id); err != nil {
		t.Fatalf("wait instance-running: %v", err)
	}
	var rows [][]string
	cliJSON(t, e, alice, &rows, "ec2", "describe-instances", "--filters", "Name=tag:Name,Values=lab", "Name=instance-state-name,Values=running",
		"--query", "Reservations[].Instances[].[InstanceId,InstanceType,Placement.AvailabilityZone]")
	if len(rows) != 2 || rows[0][1] != "t2.micro" || rows[0][2] != "us-east-1a" {
		t.Errorf("describe --filters --query: got %v, want 2 rows of t2.micro in us-east-1a", rows)
	}
	var term struct {
		TerminatingInstances []struct {
			CurrentState, PreviousState struct{ Name string }
		}
	}
	cliJSON(t, e, alice, &term, "ec2", "terminate-instances", "--instance-ids", id)
	if len(term.TerminatingInstances) != 1 || term.TerminatingInstances[0].PreviousState.Name != "running" || term.TerminatingInstances[0].CurrentState.Name == "running" {
		t.Errorf("terminate-instances: got %+v, want running -> shutting-down/terminated", term)
	}
	_, err := e.CLI(t, alice, "ec2", "describe-instances", "--instance-ids", "i-0123456789abcdef0")
	if err == nil || !strings.Contains(err.Error(), "InvalidInstanceID.NotFound") {
		t.Errorf("describe unknown id: got %v, want InvalidInstanceID.NotFound", err)
	}
}

const boto3InstancesScript = `
import os, json, boto3, botocore
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
out = {}
r = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=12, MaxCount=12, ClientToken="lab-1")
ids = sorted(i["InstanceId"] for i in r["Instances"])
again = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=12, MaxCount=12, ClientToken="lab-1")
out["idempotent"] = sorted(i["InstanceId"] for i in again["Instances"]) == ids
try:
    ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, ClientToken="lab-1")
except botocore.exceptions.ClientError as e:
    out["mismatch"] = e.response["Error"]["Code"]
ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
ec2.get_waiter("instance_status_ok").wait(InstanceIds=ids[:2], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
pages, seen = 0, []
for page in ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}):
    pages += 1
    seen += [i["InstanceId"] for res in page["Reservations"] for i in res["Instances"]]
out["pages"], out["paged_ids_match"] = pages, sorted(seen) == ids
ec2.stop_instances(InstanceIds=ids[:1])
ec2.get_waiter("instance_stopped").wait(InstanceIds=ids[:1], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
ec2.start_instances(InstanceIds=ids[:1])
ec2.reboot_instances(InstanceIds=ids[1:2])
for code, call in [("MaxResults with ids", lambda: ec2.describe_instances(InstanceIds=ids[:1], MaxResults=5)),
                   ("bad count", lambda: ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=3, MaxCount=2)),
                   ("bad zone", lambda: ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "mars-1a"}))]:
    try:
        call()
    except botocore.exceptions.ClientError as e:
        out[code] = e.response["Error"]["Code"]
ec2.terminate_instances(InstanceIds=ids)
ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
print(json.dumps(out, sort_keys=True))
`

func TestInstancesWithBoto3(t *testing.T) {
	e := econetest.Start(t)
	out, err := e.Boto3(t, e.User(t, "alice"), boto3InstancesScript)
	var got map[string]any
	decodeOutput(t, out, err, &got)
	want := map[string]any{
		"idempotent": true, "mismatch": "IdempotentParameterMismatch", "pages": 3.0, "paged_ids_match": true,
		"MaxResults with ids": "InvalidParameterCombination", "bad count": "InvalidParameterValue", "bad zone": "InvalidParameterValue",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %v, want %v", k, got[k], w)
		}
	}
}

// TestParallelLaunches: many students launch at once (run under -race);
// each ends up with exactly their own instances, all with distinct addresses.
func TestParallelLaunches(t *testing.T) {
	e := econetest.Start(t)
	const students, launches = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, students*launches)
	clients := make([]*ec2.Client, students)
	for s := range students {
		clients[s] = e.EC2(e.User(t, fmt.Sprintf("student%d", s)))
	}
	ctx := econetest.Context(t)
	for s := range students {
		for range launches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := clients[s].RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("parallel RunInstances: %v", err)
		}
	}
	addrs := map[string]bool{}
	for s, c := range clients {
		got, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(instanceIDsOf(got.Reservations)); n != 2*launches {
			t.Errorf("student%d: got %d instances, want %d", s, n, 2*launches)
		}
		for _, r := range got.Reservations {
			for _, inst := range r.Instances {
				ip := aws.ToString(inst.PrivateIpAddress)
				if addrs[ip] {
					t.Errorf("address %s handed out twice", ip)
				}
				addrs[ip] = true
			}
		}
	}
}

// TestInstancesSurviveRestart: an instance pending when the server stops
// finishes booting after it starts again; a stopped one stays stopped.
func TestInstancesSurviveRestart(t *testing.T) {
	e := econetest.Start(t, func(c *conf.Config) {
		c.Backend.Sim.BootDelay = conf.Duration(30 * time.Second)
	})
	creds := e.User(t, "alice")
	ctx := econetest.Context(t)
	run := func(c *ec2.Client) string {
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Instances[0].InstanceId)
	}
	c := e.EC2(creds)
	stopped := run(c)
	e.Clock.Advance(31 * time.Second)
	if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}}); err != nil {
		t.Fatal(err)
	}
	booting := run(c)
	e.Stop()

	e2 := econetest.StartConfig(t, e.Config)
	e2.Clock.Advance(31 * time.Second) // a new clock: catch up with the old one
	c2 := e2.EC2(creds)
	state := func() map[string]string {
		got, err := c2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range got.Reservations {
			for _, inst := range r.Instances {
				m[aws.ToString(inst.InstanceId)] = string(inst.State.Name)
			}
		}
		return m
	}
	if got := state(); got[booting] != "pending" || got[stopped] != "stopped" {
		t.Errorf("right after restart: got %v, want %s pending, %s stopped", got, booting, stopped)
	}
	e2.Clock.Advance(31 * time.Second)
	if got := state(); got[booting] != "running" || got[stopped] != "stopped" {
		t.Errorf("after the boot delay: got %v, want %s running, %s stopped", got, booting, stopped)
	}
}

// gzipBase64 is user data as the hadoop-ec2 scripts send it.
func gzipBase64(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// boto2ParseReservations parses DescribeInstances answers with boto 2.49's
// own classes, as the scripts do, and prints what they read.
const boto2ParseReservations = `
import json, xml.sax
import boto.handler, boto.resultset
from boto.ec2.instance import Reservation
out = []
for body in json.load(open(DATA)):
    rs = boto.resultset.ResultSet([("item", Reservation)])
    xml.sax.parseString(body.encode(), boto.handler.XmlHandler(rs, None))
    out.append([{"groups": sorted(g.id for g in r.groups),
                 "instances": [{"id": i.id, "state": i.state, "dns": i.dns_name, "type": i.instance_type, "key": i.key_name}
                               for i in r.instances]} for r in rs])
print(json.dumps(out))
`

type boto2Reservation struct {
	Groups    []string `json:"groups"`
	Instances []struct {
		ID, State, DNS, Type, Key string
	} `json:"instances"`
}

// TestHadoopTraceInstances replays the recorded hadoop-ec2 runs (both
// boto versions, re-signed) except their volume steps, and parses every
// DescribeInstances answer with boto 2.49: the scripts find each cluster
// role by the group names in the reservation's groupId.
func TestHadoopTraceInstances(t *testing.T) {
	hadoopTraceInstances(t, econetest.Start(t))
}

func hadoopTraceInstances(t *testing.T, e *econetest.Env) {
	traces := []struct{ file, version string }{
		{"hadoop-ec2-boto-2.0b3-trace.jsonl", "2010-08-31"},
		{"hadoop-ec2-boto-2.49-trace.jsonl", "2014-10-01"},
	}
	for i, tr := range traces {
		t.Run(tr.version, func(t *testing.T) {
			creds := e.User(t, fmt.Sprintf("hadoop%d", i))
			c := e.EC2(creds)
			if _, err := c.CreateKeyPair(econetest.Context(t), &ec2.CreateKeyPairInput{KeyName: aws.String("cs61c-ab-default")}); err != nil {
				t.Fatal(err)
			}
			rp := NewReplayer(e, creds)
			rp.Rewrite = func(te TraceEntry, p url.Values) {
				if p.Get("UserData") != "" {
					p.Set("UserData", gzipBase64(t, "#!/bin/sh\nexport AWS_SECRET=hunter2\n"))
				}
			}
			entries := LoadTrace(t, tr.file)
			var describes []string
			runs := 0
			for j, te := range entries {
				if strings.Contains(te.Action(), "Volume") || strings.Contains(te.Action(), "Snapshot") {
					continue
				}
				r := rp.Send(t, te)
				if r.status != 200 {
					t.Fatalf("step %d %s: got %d %s %s", j, te.Action(), r.status, r.code, r.message)
				}
				if !strings.Contains(r.body, "/doc/"+tr.version+"/") {
					t.Errorf("step %d %s: answer not in the %s namespace", j, te.Action(), tr.version)
				}
				switch te.Action() {
				case "RunInstances":
					runs++
					mapRecordedIDs(t, rp, r.body, entries[j+1:])
				case "DescribeInstances":
					describes = append(describes, r.body)
					if strings.Contains(r.body, "networkInterfaceSet") || strings.Contains(r.body, "privateIpAddressesSet") {
						t.Errorf("step %d: old clients got a VPC-era nested list", j)
					}
				}
			}
			if runs < 2 || len(describes) < 10 {
				t.Fatalf("replayed %d launches and %d describes, want the whole run", runs, len(describes))
			}
			checkHadoopCluster(t, e, creds, describes)
			if strings.Contains(e.Logs(), "hunter2") {
				t.Errorf("the scripts' user data reached the log")
			}
		})
	}
}

// mapRecordedIDs maps the recorded instance ids (named by the next
// DescribeInstances of the trace) to those the live RunInstances returned.
func mapRecordedIDs(t *testing.T, rp *Replayer, body string, rest []TraceEntry) {
	t.Helper()
	var live []string
	for _, part := range strings.Split(body, "<instanceId>")[1:] {
		live = append(live, part[:strings.Index(part, "<")])
	}
	for _, te := range rest {
		if te.Action() == "DescribeInstances" && te.Params["InstanceId.1"] != "" {
			for k := 1; k <= len(live); k++ {
				rp.Map(te.Params[fmt.Sprintf("InstanceId.%d", k)], live[k-1])
			}
			return
		}
	}
}

// checkHadoopCluster reads the describes the way the scripts' boto does:
// while the cluster ran, its reservations carried the cluster and role
// groups by name and every instance an address to reach it by.
func checkHadoopCluster(t *testing.T, e *econetest.Env, creds *admin.Credentials, describes []string) {
	t.Helper()
	in, _ := json.Marshal(describes)
	data := filepath.Join(t.TempDir(), "describes.json")
	if err := os.WriteFile(data, in, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := e.Boto2(t, creds, fmt.Sprintf("DATA = %q\n", data)+boto2ParseReservations)
	var parsed [][]boto2Reservation
	decodeOutput(t, out, err, &parsed)
	maxInstances := 0
	for _, rs := range parsed {
		n := 0
		for _, r := range rs {
			for _, inst := range r.Instances {
				n++
				if !strings.HasPrefix(inst.ID, "i-") || inst.Type != "m1.small" || inst.Key != "cs61c-ab-default" {
					t.Errorf("boto 2 read instance %+v, want an i- id, m1.small, key cs61c-ab-default", inst)
				}
				if inst.State == "running" && inst.DNS == "" {
					t.Errorf("running instance %s has no dnsName", inst.ID)
				}
			}
			// The storage commands' lone instance runs in the default group.
			if fmt.Sprint(r.Groups) != "[default]" && !contains(r.Groups, "cs61c-ab-testing") {
				t.Errorf("reservation groups %v: want [default] or the cluster group cs61c-ab-testing by name", r.Groups)
			}
		}
		maxInstances = max(maxInstances, n)
	}
	if maxInstances < 3 {
		t.Errorf("boto 2 saw at most %d instances in one describe, want the 3 of the cluster", maxInstances)
	}
	last := parsed[len(parsed)-1]
	roles := map[string]bool{}
	for _, rs := range parsed {
		for _, r := range rs {
			for _, g := range r.Groups {
				roles[g] = true
			}
		}
	}
	for _, want := range []string{"cs61c-ab-testing-nn", "cs61c-ab-testing-dn"} {
		if !roles[want] {
			t.Errorf("no reservation carried group %s by name (got %v)", want, roles)
		}
	}
	for _, r := range last {
		for _, inst := range r.Instances {
			if inst.State != "terminated" && inst.State != "shutting-down" {
				t.Errorf("after terminate-cluster: %s is %s", inst.ID, inst.State)
			}
		}
	}
}

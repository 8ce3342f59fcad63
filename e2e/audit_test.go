package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/econetest"
)

const auditImage = "ami-0a1b2c3d4e5f60001"

// Every change through the real server leaves one audited change with its
// user, key, source, resource ids and result; reads leave none; dry runs
// are recorded, as CloudTrail records them; no secret reaches the files.
func TestAuditRecordsChanges(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	c, ctx := e.EC2(alice), econetest.Context(t)
	const userData = "#!/bin/sh\necho audit-secret-user-data\n"

	kp, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("alice-k1")})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(auditImage), InstanceType: types.InstanceTypeT2Micro,
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), KeyName: aws.String("alice-k1"),
		UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))})
	if err != nil {
		t.Fatal(err)
	}
	i1, i2 := *run.Instances[0].InstanceId, *run.Instances[1].InstanceId
	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(e.Config.AvailabilityZones[0]), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*vol.VolumeId}, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("data")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{i1}, DryRun: aws.Bool(true)})
	if got := apiCode(err); got != "DryRunOperation" {
		t.Fatalf("dry run: got %s, want DryRunOperation", got)
	}
	_, err = c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String("vol-00000000000000000")})
	if got := apiCode(err); got != "InvalidVolume.NotFound" {
		t.Fatalf("DeleteVolume of nothing: got %s, want InvalidVolume.NotFound", got)
	}
	term, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{i1, i2}})
	if err != nil {
		t.Fatal(err)
	}

	e.Stop() // result entries are queued, not waited for: Close writes them
	entries, bad, err := audit.Read(e.Config.AuditDir())
	if err != nil || bad != 0 {
		t.Fatalf("Read: got %d bad lines, %v", bad, err)
	}
	changes := audit.Changes(entries)
	type want struct {
		action    string
		result    string
		resources []string
	}
	wants := []want{
		{"CreateKeyPair", "Success", []string{"alice-k1", *kp.KeyPairId}},
		{"RunInstances", "Success", []string{auditImage, "alice-k1", i1, i2}},
		{"CreateVolume", "Success", []string{*vol.VolumeId}},
		{"AllocateAddress", "Success", []string{*addr.AllocationId, *addr.PublicIp}},
		{"CreateSecurityGroup", "Success", []string{"web", *sg.GroupId}},
		{"CreateTags", "Success", []string{*vol.VolumeId}},
		{"TerminateInstances", "DryRunOperation", []string{i1}},
		{"DeleteVolume", "InvalidVolume.NotFound", []string{"vol-00000000000000000"}},
		{"TerminateInstances", "Success", []string{i1, i2}},
	}
	if len(changes) != len(wants) {
		for _, ch := range changes {
			t.Logf("%+v", ch)
		}
		t.Fatalf("got %d changes, want %d (DescribeInstances is not one)", len(changes), len(wants))
	}
	for i, w := range wants {
		ch := changes[i]
		if ch.Action != w.action || ch.Result != w.result {
			t.Errorf("change %d: got %s %s, want %s %s", i, ch.Action, ch.Result, w.action, w.result)
		}
		if ch.User != "alice" || ch.AccessKeyID != alice.AccessKeyID || !strings.HasPrefix(ch.Source, "127.0.0.1:") || ch.Time.IsZero() {
			t.Errorf("change %d (%s): got user %q key %q source %q time %v, want alice, her key, loopback, a time", i, w.action, ch.User, ch.AccessKeyID, ch.Source, ch.Time)
		}
		for _, id := range w.resources {
			if !slices.Contains(ch.Resources, id) {
				t.Errorf("change %d (%s): got resources %v, want %s among them", i, w.action, ch.Resources, id)
			}
		}
	}
	if id, _ := awsmiddleware.GetRequestIDMetadata(term.ResultMetadata); changes[len(changes)-1].RequestID != id {
		t.Errorf("request id: got %s, want the response's %s", changes[len(changes)-1].RequestID, id)
	}

	raw := readAuditFiles(t, e.Config.AuditDir())
	for name, secret := range map[string]string{
		"secret access key": alice.SecretAccessKey,
		"key material":      strings.Split(*kp.KeyMaterial, "\n")[1],
		"user data":         "audit-secret-user-data",
		"user data, base64": base64.StdEncoding.EncodeToString([]byte(userData))[:16],
		"signature":         "Signature",
	} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit log holds the %s", name)
		}
	}
}

func readAuditFiles(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	return all.String()
}

// When the audit log cannot be written (here: a full disk, /dev/full, as
// root would meet it), changes are refused with InternalError saying
// auditing failed, and nothing changes; reads still work.
func TestAuditFailsClosed(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	e.Stop()
	path := filepath.Join(e.Config.AuditDir(), "audit.log")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	e = econetest.StartConfig(t, e.Config)
	c, ctx := e.EC2(alice), econetest.Context(t)

	refused := map[string]func() error{
		"CreateKeyPair": func() error {
			_, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("k")})
			return err
		},
		"RunInstances": func() error {
			_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(auditImage), InstanceType: types.InstanceTypeT2Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			return err
		},
		"CreateVolume": func() error {
			_, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(e.Config.AvailabilityZones[0]), Size: aws.Int32(1)})
			return err
		},
	}
	for name, call := range refused {
		err := call()
		if code, status := apiError(err); code != "InternalError" || status != 500 || !strings.Contains(err.Error(), "auditing failed") {
			t.Errorf("%s with the audit log unwritable: got %v, want InternalError (500) saying auditing failed", name, err)
		}
	}
	kps, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil || len(kps.KeyPairs) != 0 {
		t.Errorf("DescribeKeyPairs: got %v, %v; want none", kps, err)
	}
	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || len(insts.Reservations) != 0 {
		t.Errorf("DescribeInstances: got %v, %v; want none", insts, err)
	}
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil || len(vols.Volumes) != 0 {
		t.Errorf("DescribeVolumes: got %v, %v; want none", vols, err)
	}
}

// Every mutating action of the table, sent with no parameters (so each
// one fails its own way, or does nothing), leaves exactly one audited
// change naming the action and its result code; no read-only one does.
func TestAuditCoversEveryMutatingAction(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	services := actions.Services()
	var mutating []string
	for name := range actions.Table() {
		if audit.Mutating(name) {
			mutating = append(mutating, name)
		}
	}
	slices.Sort(mutating)
	results := map[string]string{}
	for _, name := range append(slices.Clone(mutating), "DescribeInstances", "GetConsoleOutput") {
		req, body := newRequest(t, e, http.MethodPost, params("Action", name, "Version", "2016-11-15"))
		creds := aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), services[name], e.Config.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
		got := send(t, req)
		results[name] = got.code
		if got.code == "" {
			results[name] = audit.Success
		}
	}
	e.Stop()
	entries, bad, err := audit.Read(e.Config.AuditDir())
	if err != nil || bad != 0 {
		t.Fatalf("Read: got %d bad lines, %v", bad, err)
	}
	byAction := map[string][]*audit.Change{}
	for _, c := range audit.Changes(entries) {
		byAction[c.Action] = append(byAction[c.Action], c)
	}
	for _, name := range mutating {
		cs := byAction[name]
		if len(cs) != 1 {
			t.Errorf("%s: got %d audited changes, want 1", name, len(cs))
			continue
		}
		if cs[0].User != "alice" || cs[0].Result != results[name] {
			t.Errorf("%s: got user %q result %q, want alice and %q (the answer's code)", name, cs[0].User, cs[0].Result, results[name])
		}
	}
	for _, name := range []string{"DescribeInstances", "GetConsoleOutput"} {
		if n := len(byAction[name]); n != 0 {
			t.Errorf("read-only %s: got %d audited changes, want none", name, n)
		}
	}
}

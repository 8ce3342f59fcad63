package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// eipScripts writes associate and disassociate scripts into dir. Each call
// appends one record to dir/calls: "OP", then one argument per line, then
// the ECONE_* environment, then "--". The associate script obeys
// dir/mode: "fail" exits 1 with a message on stderr, "hang" never ends,
// "slow" writes its process group to dir/pgid and leaves a child that
// waits for dir/go to exist (so a test holds it open without sleeping), or
// for dir to go, then "makes the association" (appends to dir/network).
func eipScripts(t *testing.T, dir string) (associate, disassociate string) {
	t.Helper()
	record := `d=$(dirname "$0")
{ echo "$OP"; for a in "$@"; do printf '%s\n' "$a"; done; env | grep '^ECONE_' | sort; echo --; } >> "$d/calls"
`
	assoc := "#!/bin/sh\nOP=associate\n" + record + `case $(cat "$d/mode" 2>/dev/null) in
fail) echo "iptables: secret-stderr-detail" >&2; exit 1 ;;
hang) sleep 600 ;;
slow) echo $$ > "$d/pgid"; touch "$d/started"
  ( while [ ! -e "$d/go" ] && [ -d "$d" ]; do sleep 0.05; done; [ -d "$d" ] && echo "$ECONE_ELASTIC_IP" >> "$d/network" ) & wait ;;
esac
`
	disassoc := "#!/bin/sh\nOP=disassociate\n" + record
	associate, disassociate = filepath.Join(dir, "associate.sh"), filepath.Join(dir, "disassociate.sh")
	for path, body := range map[string]string{associate: assoc, disassociate: disassoc} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return associate, disassociate
}

// scriptCall is one recorded script run.
type scriptCall struct {
	Op      string
	Args    []string
	Env     map[string]string
	Context map[string]any // the decoded BASE64_CONTEXT
}

func readScriptCalls(t *testing.T, dir string) []scriptCall {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "calls"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []scriptCall
	for _, rec := range strings.Split(strings.TrimSuffix(string(raw), "--\n"), "--\n") {
		lines := strings.Split(strings.TrimSuffix(rec, "\n"), "\n")
		c := scriptCall{Op: lines[0], Env: map[string]string{}}
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "ECONE_") {
				c.Env[k] = v
			} else {
				c.Args = append(c.Args, l)
			}
		}
		if len(c.Args) == 3 {
			js, err := base64.StdEncoding.DecodeString(c.Args[2])
			if err != nil || json.Unmarshal(js, &c.Context) != nil {
				t.Errorf("got context argument %q, want base64 JSON", c.Args[2])
			}
		}
		out = append(out, c)
	}
	return out
}

// checkScriptCall asserts one recorded call against the association it was for.
func checkScriptCall(t *testing.T, c scriptCall, op, user, publicIP, privateIP, instanceID, allocationID, associationID string) {
	t.Helper()
	if c.Op != op || strings.Join(c.Args[:min(2, len(c.Args))], " ") != publicIP+" "+privateIP || len(c.Args) != 3 {
		t.Errorf("got %s %q, want %s %s %s BASE64_CONTEXT", c.Op, c.Args, op, publicIP, privateIP)
	}
	wantCtx := map[string]any{"elastic_ip": publicIP, "private_ip": privateIP, "instance_id": instanceID, "user": user,
		"allocation_id": allocationID, "association_id": associationID, "network": "10.77.0.0/16", "launch": false}
	if fmt.Sprint(c.Context) != fmt.Sprint(wantCtx) {
		t.Errorf("got context %v, want %v", c.Context, wantCtx)
	}
	wantEnv := map[string]string{"ECONE_ELASTIC_IP": publicIP, "ECONE_PRIVATE_IP": privateIP, "ECONE_INSTANCE_ID": instanceID, "ECONE_USER": user}
	if fmt.Sprint(c.Env) != fmt.Sprint(wantEnv) {
		t.Errorf("got environment %v, want %v", c.Env, wantEnv)
	}
}

func withEIPs(t *testing.T, dir string, pool ...string) func(*conf.Config) {
	associate, disassociate := eipScripts(t, dir)
	return func(c *conf.Config) {
		c.ElasticIPs.Pool = pool
		c.ElasticIPs.LaunchPool = nil // only elastic IPs run the scripts here
		c.ElasticIPs.AssociateScript, c.ElasticIPs.DisassociateScript = associate, disassociate
		c.ElasticIPs.ScriptTimeout = conf.Duration(2 * time.Second)
	}
}

// runningInstances launches n instances and waits (on the server's clock)
// until they run.
func runningInstances(t *testing.T, e *econetest.Env, c *ec2.Client, n int) []types.Instance {
	t.Helper()
	ctx := econetest.Context(t)
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), InstanceType: types.InstanceTypeT2Micro, MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n))})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	ids := make([]string, n)
	for i, inst := range out.Instances {
		ids[i] = aws.ToString(inst.InstanceId)
	}
	for range 50 {
		e.Clock.Advance(time.Second)
		d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			t.Fatal(err)
		}
		var running []types.Instance
		for _, r := range d.Reservations {
			for _, inst := range r.Instances {
				if inst.State.Name == types.InstanceStateNameRunning {
					running = append(running, inst)
				}
			}
		}
		if len(running) == n {
			return running
		}
	}
	t.Fatalf("instances %v never reached running", ids)
	return nil
}

func TestAddressesCLIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	e := econetest.Start(t, withEIPs(t, dir, "203.0.113.10"))
	alice := e.User(t, "alice")
	insts := runningInstances(t, e, e.EC2(alice), 2)
	i1, i2 := aws.ToString(insts[0].InstanceId), aws.ToString(insts[1].InstanceId)
	p1, p2 := aws.ToString(insts[0].PrivateIpAddress), aws.ToString(insts[1].PrivateIpAddress)

	var alloc struct{ PublicIp, AllocationId, Domain string }
	cliJSON(t, e, alice, &alloc, "ec2", "allocate-address", "--domain", "vpc")
	if alloc.PublicIp != "203.0.113.10" || alloc.Domain != "vpc" || !strings.HasPrefix(alloc.AllocationId, "eipalloc-") {
		t.Fatalf("got %+v, want 203.0.113.10 in vpc with an eipalloc id", alloc)
	}
	var assoc struct{ AssociationId string }
	cliJSON(t, e, alice, &assoc, "ec2", "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", i1)
	var desc struct {
		Addresses []struct{ PublicIp, AllocationId, AssociationId, InstanceId, PrivateIpAddress, Domain string }
	}
	cliJSON(t, e, alice, &desc, "ec2", "describe-addresses", "--filters", "Name=instance-id,Values="+i1)
	if len(desc.Addresses) != 1 || desc.Addresses[0].AssociationId != assoc.AssociationId || desc.Addresses[0].PrivateIpAddress != p1 {
		t.Errorf("got %+v, want the address associated as %s with %s", desc.Addresses, assoc.AssociationId, p1)
	}
	// The rest through the SDK: each AWS CLI start costs seconds.
	ctx := econetest.Context(t)
	c := e.EC2(alice)
	di, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{i1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Reservations[0].Instances[0]; aws.ToString(got.PublicIpAddress) != "203.0.113.10" || aws.ToString(got.PublicDnsName) != "203.0.113.10" {
		t.Errorf("got public ip %q dns %q in DescribeInstances, want the elastic IP as both", aws.ToString(got.PublicIpAddress), aws.ToString(got.PublicDnsName))
	}
	moved, err := c.AssociateAddress(ctx, &ec2.AssociateAddressInput{PublicIp: aws.String("203.0.113.10"), InstanceId: aws.String(i2), AllowReassociation: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CLI(t, alice, "ec2", "disassociate-address", "--association-id", aws.ToString(moved.AssociationId)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(alloc.AllocationId)}); err != nil {
		t.Fatal(err)
	}

	calls := readScriptCalls(t, dir)
	if len(calls) != 4 {
		t.Fatalf("got %d script runs %+v, want associate, disassociate, associate, disassociate", len(calls), calls)
	}
	checkScriptCall(t, calls[0], "associate", "alice", "203.0.113.10", p1, i1, alloc.AllocationId, assoc.AssociationId)
	checkScriptCall(t, calls[1], "disassociate", "alice", "203.0.113.10", p1, i1, alloc.AllocationId, assoc.AssociationId)
	checkScriptCall(t, calls[2], "associate", "alice", "203.0.113.10", p2, i2, alloc.AllocationId, aws.ToString(moved.AssociationId))
	checkScriptCall(t, calls[3], "disassociate", "alice", "203.0.113.10", p2, i2, alloc.AllocationId, aws.ToString(moved.AssociationId))
}

// The boto3 script checks isolation and the error codes a student meets,
// and terminates the instance to see the address disassociated.
const boto3AddressScript = boto3WithCode + `
inst = sys.argv[1]
a = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "web"}]}])
r = ec2.associate_address(AllocationId=a["AllocationId"], InstanceId=inst)
out = {
  "again": code(ec2.associate_address, AllocationId=a["AllocationId"], InstanceId=inst),
  "release_dry_run": code(ec2.release_address, AllocationId=a["AllocationId"], DryRun=True),
  "tag": str(ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": ["web"]}])["Addresses"][0]["Tags"]),
  "assoc": r["AssociationId"],
  "alloc": a["AllocationId"],
  "ip": a["PublicIp"],
}
ec2.terminate_instances(InstanceIds=[inst])
out["after_terminate"] = str(ec2.describe_addresses(AllocationIds=[a["AllocationId"]])["Addresses"][0].get("AssociationId"))
print(json.dumps(out))
`

const boto3OtherStudentScript = `
import os, sys, json, boto3, botocore
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
alloc, ip, assoc, inst = sys.argv[1:5]
def code(f, **kw):
    try:
        f(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return "ok"
print(json.dumps({
  "describe_all": len(ec2.describe_addresses()["Addresses"]),
  "describe_alloc": code(ec2.describe_addresses, AllocationIds=[alloc]),
  "describe_ip": code(ec2.describe_addresses, PublicIps=[ip]),
  "release": code(ec2.release_address, AllocationId=alloc),
  "disassociate": code(ec2.disassociate_address, AssociationId=assoc),
  "associate": code(ec2.associate_address, PublicIp=ip, InstanceId=inst),
}))
`

func TestAddressesBoto3IsolationAndTerminate(t *testing.T) {
	dir := t.TempDir()
	e := econetest.Start(t, withEIPs(t, dir, "203.0.113.10", "203.0.113.11"))
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	inst := aws.ToString(runningInstances(t, e, e.EC2(alice), 1)[0].InstanceId)
	out, err := e.Boto3(t, alice, "import sys; sys.argv = ['x', '"+inst+"']\n"+boto3AddressScript)
	var got map[string]string
	decodeOutput(t, out, err, &got)
	checks := []struct{ name, key, want string }{
		{"same association again", "again", "ok"},
		{"release while associated, dry run", "release_dry_run", "DryRunOperation 412"},
		{"tag filter", "tag", "[{'Key': 'Name', 'Value': 'web'}]"},
		{"association after terminate", "after_terminate", "None"},
	}
	for _, c := range checks {
		if got[c.key] != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got[c.key], c.want)
		}
	}
	if calls := readScriptCalls(t, dir); len(calls) != 2 || calls[1].Op != "disassociate" {
		t.Errorf("got script runs %+v, want associate then disassociate on terminate", calls)
	}

	// Bob sees none of it: every id of Alice's is one that does not exist.
	bobInst := aws.ToString(runningInstances(t, e, e.EC2(bob), 1)[0].InstanceId)
	if _, err := e.EC2(alice).AllocateAddress(econetest.Context(t), &ec2.AllocateAddressInput{}); err != nil {
		t.Fatal(err)
	}
	out, err = e.Boto3(t, bob, fmt.Sprintf("import sys; sys.argv = ['x', %q, %q, %q, %q]\n", got["alloc"], got["ip"], got["assoc"], bobInst)+boto3OtherStudentScript)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"describe_all": 0, "describe_alloc": "InvalidAllocationID.NotFound", "describe_ip": "InvalidAddress.NotFound", "release": "InvalidAllocationID.NotFound", "disassociate": "InvalidAssociationID.NotFound", "associate": "InvalidAddress.NotFound"}`
	if strings.TrimSpace(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestAddressScriptFailures(t *testing.T) {
	dir := t.TempDir()
	e := econetest.Start(t, withEIPs(t, dir, "203.0.113.10"))
	alice := e.User(t, "alice")
	c := e.EC2(alice)
	ctx := econetest.Context(t)
	insts := runningInstances(t, e, c, 2)
	a, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
	if err != nil {
		t.Fatal(err)
	}
	associate := func(inst types.Instance) error {
		_, err := c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: a.AllocationId, InstanceId: inst.InstanceId, AllowReassociation: aws.Bool(true)})
		return err
	}
	setMode := func(mode string) {
		if err := os.WriteFile(filepath.Join(dir, "mode"), []byte(mode), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ name, mode string }{{"failing script", "fail"}, {"hanging script", "hang"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setMode(tc.mode)
			os.Remove(filepath.Join(dir, "calls"))
			err := associate(insts[0])
			var re interface{ HTTPStatusCode() int }
			if apiCode(err) != "InternalError" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
				t.Fatalf("got %v, want InternalError (500)", err)
			}
			if strings.Contains(err.Error(), "secret-stderr-detail") {
				t.Errorf("got the script's stderr in the student's error %q, want it in the log only", err)
			}
			if calls := readScriptCalls(t, dir); len(calls) != 2 || calls[1].Op != "disassociate" {
				t.Errorf("got script runs %+v, want the failed association undone by disassociate", calls)
			}
			d, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
			if err != nil || len(d.Addresses) != 1 || d.Addresses[0].AssociationId != nil {
				t.Errorf("got %+v, %v, want the address not associated", d, err)
			}
		})
	}
	if !strings.Contains(e.Logs(), "secret-stderr-detail") {
		t.Errorf("got no script stderr in the server log, want it there")
	}

	t.Run("slow script holds the address", func(t *testing.T) {
		setMode("slow")
		done := make(chan error, 1)
		go func() { done <- associate(insts[0]) }()
		waitForFile(t, filepath.Join(dir, "started"))
		if err := associate(insts[1]); apiCode(err) != "IncorrectState" {
			t.Errorf("got %v for a second association while the first runs, want IncorrectState", err)
		}
		_, err := c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: a.AllocationId})
		if apiCode(err) != "IncorrectState" {
			t.Errorf("got %v releasing during the association, want IncorrectState", err)
		}
		os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
		if err := <-done; err != nil {
			t.Fatalf("got %v for the slow association, want success", err)
		}
	})
}

// waitForFile waits for a script to signal that it has started; the poll is
// bounded by the test's deadline, no fixed sleep decides the outcome.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConcurrentAllocationSDK(t *testing.T) {
	e := econetest.Start(t, func(c *conf.Config) { c.ElasticIPs.Pool = []string{"203.0.113.10"} })
	students := []*admin.Credentials{e.User(t, "alice"), e.User(t, "bob")}
	errs := make([]error, len(students))
	var wg sync.WaitGroup
	for i, s := range students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.EC2(s).AllocateAddress(econetest.Context(t), &ec2.AllocateAddressInput{})
		}()
	}
	wg.Wait()
	codes := []string{}
	for _, err := range errs {
		if err == nil {
			codes = append(codes, "ok")
		} else {
			codes = append(codes, apiCode(err))
		}
	}
	if got := strings.Join(codes, ","); got != "ok,AddressLimitExceeded" && got != "AddressLimitExceeded,ok" {
		t.Errorf("got %s racing for the last address, want one ok and one AddressLimitExceeded", got)
	}
}

// The crash test runs the server in a child process (this test binary,
// re-executed) so it can be killed with SIGKILL mid-association. It says
// "ready" once it serves and "reconciled" once start-up's clean-up is done.
const crashHelperEnv = "ECONE_EIP_CRASH_HELPER"

func TestAddressCrashHelperProcess(t *testing.T) {
	cfgPath := os.Getenv(crashHelperEnv)
	if cfgPath == "" {
		t.Skip("helper process for TestAddressCrashDuringAssociation")
	}
	cfg, err := conf.Load(cfgPath)
	if err != nil {
		fmt.Println("config:", err)
		os.Exit(2)
	}
	a, err := app.Open(cfg, zerolog.New(os.Stderr), nil, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	go func() {
		<-a.Reconciling.Done()
		fmt.Println("reconciled")
	}()
	http.Serve(ln, a.Server)
}

// Each cycle kills the server while an associate script runs, one that has
// started a child which would make the association later. The restarted
// server must stop the whole script before undoing its association.
func TestAddressCrashDuringAssociation(t *testing.T) {
	dir := t.TempDir()
	assocScript, disassocScript := eipScripts(t, dir)
	port := freeLoopbackPort(t)
	cfgPath := filepath.Join(dir, "econe.yaml")
	yaml := fmt.Sprintf(`port: %d
data_dir: %s
backend:
  sim: {boot_delay: 0s, stop_delay: 0s, terminate_delay: 0s}
elastic_ips:
  pool: [203.0.113.10]
  launch_pool: []
  associate_script: %s
  disassociate_script: %s
  script_timeout: 60s
`, port, filepath.Join(dir, "data"), assocScript, disassocScript)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, keys, err := app.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := (&admin.Users{Store: st, Keys: keys, Clock: time.Now}).Add("alice", "")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := &econetest.Env{Config: cfg, URL: "http://" + cfg.Addr(), Clock: &econetest.Clock{}}
	c := env.EC2(creds)
	ctx := econetest.Context(t)

	server := startCrashHelper(t, cfgPath)
	server.waitFor(t, "reconciled")
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), InstanceType: types.InstanceTypeT2Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	instID := run.Instances[0].InstanceId
	var privateIP string
	for range 100 {
		d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{*instID}})
		if err != nil {
			t.Fatal(err)
		}
		if inst := d.Reservations[0].Instances[0]; inst.State.Name == types.InstanceStateNameRunning {
			privateIP = aws.ToString(inst.PrivateIpAddress)
			break
		}
	}
	alloc, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
	if err != nil {
		t.Fatal(err)
	}
	const cycles = 3
	for cycle := range cycles {
		for _, f := range []string{"calls", "started", "pgid"} {
			os.Remove(filepath.Join(dir, f))
		}
		os.WriteFile(filepath.Join(dir, "mode"), []byte("slow"), 0o644)
		go c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: instID})
		waitForFile(t, filepath.Join(dir, "started"))
		pgid := readInt(t, filepath.Join(dir, "pgid"))
		t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
		server.kill() // SIGKILL: no clean-up of any kind

		os.Remove(filepath.Join(dir, "mode"))
		server = startCrashHelper(t, cfgPath)
		server.waitFor(t, "reconciled")
		if groupRuns(t, pgid) {
			t.Errorf("cycle %d: got the orphaned associate script (process group %d) still running after start-up's clean-up, want it stopped", cycle, pgid)
		}
		calls := readScriptCalls(t, dir)
		if len(calls) != 2 {
			t.Fatalf("cycle %d: got script runs %+v, want the interrupted associate and the reconciling disassociate", cycle, calls)
		}
		checkScriptCall(t, calls[1], "disassociate", "alice", "203.0.113.10", privateIP, *instID, *alloc.AllocationId, calls[0].Context["association_id"].(string))
		d, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
		if err != nil || len(d.Addresses) != 1 || d.Addresses[0].AssociationId != nil {
			t.Fatalf("cycle %d: got %+v, %v after restart, want the address kept and not associated", cycle, d, err)
		}
	}
	// The lock is gone with the intent: associating works again.
	if _, err := c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: instID}); err != nil {
		t.Errorf("got %v associating after recovery, want success", err)
	}
}

// crashServer is the server child of a crash test.
type crashServer struct {
	cmd   *exec.Cmd
	lines chan string // what it prints, line by line
}

// startCrashHelper starts the server child and waits until it serves.
func startCrashHelper(t *testing.T, cfgPath string) *crashServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAddressCrashHelperProcess$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &crashServer{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			s.lines <- lines.Text()
		}
		close(s.lines)
	}()
	s.waitFor(t, "ready")
	return s
}

// waitFor waits (bounded) until the server child prints want.
func (s *crashServer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("server child ended before saying %q", want)
			}
			if strings.TrimSpace(line) == want {
				return
			}
		case <-deadline:
			t.Fatalf("server child did not say %q within 30s", want)
		}
	}
}

func (s *crashServer) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// readInt waits for a file a script writes and reads the number in it.
func readInt(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		raw, err := os.ReadFile(path)
		if n, perr := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && perr == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held a number", path)
		}
	}
}

// groupRuns reports whether any process of group pgid runs (a zombie has
// stopped running).
func groupRuns(t *testing.T, pgid int) bool {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command name: state, ppid, pgrp, ...
		if i := bytes.LastIndexByte(raw, ')'); i >= 0 {
			f := strings.Fields(string(raw[i+1:]))
			if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
				return true
			}
		}
	}
	return false
}

// `econe-server start` over elastic IP changes a crash left unfinished:
// the server answers at once, says what it is undoing, keeps just those
// addresses locked while their (slow) disassociate scripts run, and
// unlocks them once done.
func TestStartServesWhileReconciling(t *testing.T) {
	bin := buildServerBinary(t)
	scripts := t.TempDir()
	release := filepath.Join(scripts, "go")
	disassociate := filepath.Join(scripts, "disassociate.sh")
	body := fmt.Sprintf("#!/bin/sh\nwhile [ ! -e %s ] && [ -d %s ]; do sleep 0.05; done\n", release, scripts)
	if err := os.WriteFile(disassociate, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	d := newServerProcess(t, bin, "elastic_ips:\n  pool: [203.0.113.0/29]\n  disassociate_script: "+disassociate+"\n")
	t.Cleanup(func() { os.WriteFile(release, nil, 0o644) }) // lets stop finish quickly
	cfg, err := conf.Load(d.config)
	if err != nil {
		t.Fatal(err)
	}

	// What a crash during two disassociations leaves behind.
	st, keys, err := app.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := (&admin.Users{Store: st, Keys: keys, Clock: time.Now}).Add("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	locked := []string{"203.0.113.1", "203.0.113.2"}
	err = st.Update(func(tx store.Tx) error {
		for i, ip := range locked {
			a := &store.Address{AllocationID: fmt.Sprintf("eipalloc-0000000000000000%d", i), Owner: "alice", PublicIP: ip, Domain: "vpc",
				Association: &store.AddressAssociation{AssociationID: fmt.Sprintf("eipassoc-0000000000000000%d", i), InstanceID: fmt.Sprintf("i-0000000000000000%d", i), PrivateIP: "10.77.0.9"}}
			b, _ := a.Binding()
			if err := store.PutAddress(tx, a); err != nil {
				return err
			}
			if err := store.PutAddressIntent(tx, &store.AddressIntent{Owner: "alice", AllocationID: a.AllocationID, Undo: []store.AddressBinding{b}}); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	_, errOut, code := d.run(t, "start")
	if code != 0 || !strings.Contains(errOut, "undoing 2 unfinished elastic IP changes in the background") {
		t.Fatalf("start: exit %d, stderr %q; want success saying what it undoes in the background", code, errOut)
	}
	env := &econetest.Env{Config: cfg, URL: d.url(), Clock: &econetest.Clock{}}
	c := env.EC2(creds)
	ctx := econetest.Context(t)
	for _, ip := range locked {
		_, err := c.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{PublicIp: aws.String(ip)})
		if apiCode(err) != "IncorrectState" {
			t.Errorf("got %v disassociating %s while start-up undoes it, want IncorrectState", err, ip)
		}
	}
	if a, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{}); err != nil || aws.ToString(a.PublicIp) != "203.0.113.3" {
		t.Errorf("got %+v, %v allocating meanwhile, want the free 203.0.113.3", a, err)
	}

	os.WriteFile(release, nil, 0o644)
	logFile := filepath.Join(d.dir, "data", "econe-server.log")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if raw, _ := os.ReadFile(logFile); strings.Contains(string(raw), "unfinished elastic IP changes reconciled") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never said the changes were reconciled")
		}
	}
	got, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{PublicIps: locked})
	if err != nil || len(got.Addresses) != 2 || got.Addresses[0].AssociationId != nil || got.Addresses[1].AssociationId != nil {
		t.Fatalf("got %+v, %v after reconciliation, want both addresses kept, not associated", got, err)
	}
	if _, err := c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{PublicIp: aws.String(locked[0])}); err != nil {
		t.Errorf("got %v releasing after reconciliation, want the lock gone", err)
	}
}

// A newcomer's first elastic IP, with the AWS CLI on the default
// configuration: the sim's default pool serves the whole flow.
func TestAddressesOnDefaultConfigCLI(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	inst := runningInstances(t, e, e.EC2(alice), 1)[0]
	var alloc struct{ PublicIp, AllocationId string }
	cliJSON(t, e, alice, &alloc, "ec2", "allocate-address")
	if !strings.HasPrefix(alloc.PublicIp, "198.51.100.") {
		t.Fatalf("got %+v, want an address from the default pool 198.51.100.0/24", alloc)
	}
	var assoc struct{ AssociationId string }
	cliJSON(t, e, alice, &assoc, "ec2", "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", aws.ToString(inst.InstanceId))
	if !strings.HasPrefix(assoc.AssociationId, "eipassoc-") {
		t.Errorf("got %+v, want an association id", assoc)
	}
}

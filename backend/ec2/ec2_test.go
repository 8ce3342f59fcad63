package ec2_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/backend/ec2"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// config is the ec2 backend pointed at moto.
func config(endpoint string) *conf.Config {
	cfg := conf.Default()
	cfg.Backend.Name = "ec2"
	e := &cfg.Backend.EC2
	e.Endpoint, e.Course = endpoint, "suite"
	e.Credentials = conf.EC2Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}
	e.RateLimit, e.RateBurst = 1000, 1000
	return cfg
}

func newBackend(endpoint string) backendtest.NewBackend {
	return func(t *testing.T, st store.Store, clock func() time.Time) backend.Backend {
		b, err := ec2.New(backend.Deps{Config: config(endpoint), Store: store.NewSpace(st, "ec2"), Clock: clock, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func TestConformance(t *testing.T) {
	endpoint := econetest.Moto(t)
	backendtest.Run(t, newBackend(endpoint))
	backendtest.RunVolumes(t, newBackend(endpoint))
}

// TestStartCheck: wrong settings stop the start-up, naming the key.
func TestStartCheck(t *testing.T) {
	endpoint := econetest.Moto(t)
	cases := []struct {
		name string
		set  func(c *conf.Config)
		want string
	}{
		{"unknown zone", func(c *conf.Config) { c.AvailabilityZones = []string{"us-east-1z"} }, "availability zone us-east-1z"},
		{"unknown subnet", func(c *conf.Config) { c.Backend.EC2.SubnetID = "subnet-00000000" }, "backend.ec2.subnet_id"},
		{"nothing listening", func(c *conf.Config) { c.Backend.EC2.Endpoint = "http://127.0.0.1:1"; c.Backend.EC2.MaxAttempts = 1 }, "check backend.ec2.credentials and backend.ec2.region"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(endpoint)
			c.set(cfg)
			st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_, err = ec2.New(backend.Deps{Config: cfg, Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop()})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestNamesAndTags reads moto's own state: names are PREFIX-USER-NAME and
// every resource carries the econe tags, the user's group included.
func TestNamesAndTags(t *testing.T) {
	endpoint := econetest.Moto(t)
	st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	groups := func(string) string { return "cs101" }
	b, err := ec2.Open(backend.Deps{Config: config(endpoint), Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop(), UserGroup: groups})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOPg2GZK1Nq0VkEhoNyGx6qjFhmGMq4i2sKHKjXx3oE alice"
	if err := b.ImportKey(ctx, backend.KeySpec{KeyID: "key-0000000000000000a", Owner: "alice", Name: "laptop", PublicKey: pub}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Run(ctx, &backend.LaunchContext{InstanceID: "i-0000000000000000a", Owner: "alice", KeyName: "laptop",
		InstanceType: backend.InstanceType{Name: "t3.micro"}, Image: backend.Image{ID: "ami-12c6146b"}, Zone: "us-east-1a",
		Groups: []backend.SecurityGroup{{ID: "sg-0000000000000000a", Name: "default",
			Rules: []backend.Rule{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	api := awsec2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")},
		func(o *awsec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	keys, err := api.DescribeKeyPairs(ctx, &awsec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	sgs, err := api.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("tag:econe:owner"), Values: []string{"alice"}}}})
	if err != nil {
		t.Fatal(err)
	}
	insts, err := api.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.KeyPairs) != 1 || len(sgs.SecurityGroups) != 1 || len(insts.Reservations) != 1 {
		t.Fatalf("got %d keys, %d groups, %d reservations in moto, want 1 each", len(keys.KeyPairs), len(sgs.SecurityGroups), len(insts.Reservations))
	}
	inst := insts.Reservations[0].Instances[0]
	wantTags := func(id string) map[string]string {
		return map[string]string{"econe:id": id, "econe:owner": "alice", "econe:group": "cs101", "econe:course": "suite"}
	}
	cases := []struct {
		name     string
		got      string
		want     string
		tags     []types.Tag
		wantTags map[string]string
	}{
		{"key pair", aws.ToString(keys.KeyPairs[0].KeyName), "econe-alice-laptop", keys.KeyPairs[0].Tags, wantTags("key-0000000000000000a")},
		{"security group", aws.ToString(sgs.SecurityGroups[0].GroupName), "econe-alice-default", sgs.SecurityGroups[0].Tags, wantTags("sg-0000000000000000a")},
		{"instance key", aws.ToString(inst.KeyName), "econe-alice-laptop", inst.Tags, wantTags("i-0000000000000000a")},
		{"instance group", aws.ToString(inst.SecurityGroups[0].GroupId), aws.ToString(sgs.SecurityGroups[0].GroupId), nil, nil},
		{"group rule", fmt.Sprint(len(sgs.SecurityGroups[0].IpPermissions)), "1", nil, nil},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
		got := map[string]string{}
		for _, tg := range c.tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		for k, v := range c.wantTags {
			if got[k] != v {
				t.Errorf("%s: tag %s = %q, want %q", c.name, k, got[k], v)
			}
		}
	}
}

// TestVolumeOwnerAndDeleteOnTermination reads moto's own state: a volume
// is tagged with its owner, and a launch's volume is deleted with the
// instance only when the student asked for it.
func TestVolumeOwnerAndDeleteOnTermination(t *testing.T) {
	endpoint := econetest.Moto(t)
	st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := ec2.Open(backend.Deps{Config: config(endpoint), Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := b.CreateVolume(ctx, backend.VolumeSpec{VolumeID: "vol-0000000000000000a", Owner: "alice", Zone: "us-east-1a", SizeGiB: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Run(ctx, &backend.LaunchContext{InstanceID: "i-0000000000000000b", Owner: "alice",
		InstanceType: backend.InstanceType{Name: "t3.micro"}, Image: backend.Image{ID: "ami-12c6146b"}, Zone: "us-east-1a",
		Volumes: []backend.Volume{
			{VolumeID: "vol-0000000000000000b", Device: "/dev/sda1", SizeGiB: 8, Root: true, DeleteOnTermination: false},
			{VolumeID: "vol-0000000000000000c", Device: "/dev/sdf", SizeGiB: 1, DeleteOnTermination: true},
		}})
	if err != nil {
		t.Fatal(err)
	}
	api := awsec2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")},
		func(o *awsec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	insts, err := api.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, bd := range insts.Reservations[0].Instances[0].BlockDeviceMappings {
		kept[aws.ToString(bd.DeviceName)] = !aws.ToBool(bd.Ebs.DeleteOnTermination)
	}
	if _, err := b.Terminate(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	owned, err := api.DescribeVolumes(ctx, &awsec2.DescribeVolumesInput{Filters: []types.Filter{
		{Name: aws.String("tag:econe:id"), Values: []string{"vol-0000000000000000a"}}, {Name: aws.String("tag:econe:owner"), Values: []string{"alice"}}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"created volume tagged econe:owner alice", len(owned.Volumes), 1},
		{"root volume kept at termination", kept["/dev/sda1"], true},
		{"marked volume deleted at termination", kept["/dev/sdf"], false},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestReadinessProbe: a describe of no machines asks AWS, so the
// readiness probe (and `econe-server status`) sees an endpoint that
// stopped answering.
func TestReadinessProbe(t *testing.T) {
	st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b *ec2.EC2
	t.Run("moto answers", func(t *testing.T) {
		cfg := config(econetest.Moto(t)) // stopped when this subtest ends
		cfg.Backend.EC2.MaxAttempts = 1
		if b, err = ec2.Open(backend.Deps{Config: cfg, Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop()}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Describe(t.Context(), nil); err != nil {
			t.Errorf("probe while moto answers: got %v, want nil", err)
		}
	})
	if b == nil {
		t.FailNow()
	}
	if _, err := b.Describe(t.Context(), nil); err == nil {
		t.Errorf("probe after moto stopped: got nil, want an error")
	}
}

// The course's network is the only one with machines: a subnet of a
// student's own VPC is refused, and an address asked for in a default
// subnet goes to AWS.
func TestLaunchSubnet(t *testing.T) {
	endpoint := econetest.Moto(t)
	st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := ec2.Open(backend.Deps{Config: config(endpoint), Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	lc := func(id string, sn backend.Subnet, ip string) *backend.LaunchContext {
		return &backend.LaunchContext{InstanceID: id, Owner: "alice", InstanceType: backend.InstanceType{Name: "t3.micro"},
			Image: backend.Image{ID: "ami-12c6146b"}, Zone: "us-east-1a", Subnet: sn, PrivateIP: ip}
	}
	_, err = b.Run(t.Context(), lc("i-0000000000000000d", backend.Subnet{ID: "subnet-0000000000000000a", VpcID: "vpc-0000000000000000a", CIDR: "10.1.2.0/24"}, ""))
	var be *backend.Error
	if !errors.As(err, &be) || be.Code != ec2err.UnsupportedOperation || !strings.Contains(be.Message, "subnet-0000000000000000a") {
		t.Errorf("launch in a student's own VPC: got %v, want UnsupportedOperation naming the subnet", err)
	}
	shared := backend.Subnet{ID: "subnet-0000000000000000b", VpcID: "vpc-0000000000000000b", CIDR: "172.31.0.0/20", Shared: true}
	m, err := b.Run(t.Context(), lc("i-0000000000000000e", shared, "172.31.0.77"))
	if err != nil || m.PrivateIP != "172.31.0.77" {
		t.Errorf("launch at 172.31.0.77: got %q, %v; want that address", m.PrivateIP, err)
	}
}

// TestLaunchPublicAddress: AssociatePublicIpAddress goes to AWS (on the
// primary interface), and the machine shows AWS's public address.
func TestLaunchPublicAddress(t *testing.T) {
	endpoint := econetest.Moto(t)
	st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := ec2.Open(backend.Deps{Config: config(endpoint), Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	tests := []struct {
		name, id   string
		associate  *bool
		wantPublic bool
	}{
		{"asked for", "i-0000000000000001a", &yes, true},
		{"refused", "i-0000000000000001b", &no, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := b.Run(t.Context(), &backend.LaunchContext{InstanceID: tt.id, Owner: "alice", InstanceType: backend.InstanceType{Name: "t3.micro"},
				Image: backend.Image{ID: "ami-12c6146b"}, Zone: "us-east-1a", AssociatePublicIP: tt.associate, PrivateIP: ""})
			if err != nil {
				t.Fatal(err)
			}
			if (m.PublicIP != "") != tt.wantPublic || m.PrivateIP == "" {
				t.Errorf("got public address %q (private %q), want one: %v", m.PublicIP, m.PrivateIP, tt.wantPublic)
			}
		})
	}
}

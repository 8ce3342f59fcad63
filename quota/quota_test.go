package quota

import (
	"reflect"
	"strings"
	"testing"

	"github.com/econe/econe-server/ec2err"
	"github.com/go-json-experiment/json"
	"go.yaml.in/yaml/v3"
)

func money(s string) *Money {
	m, err := ParseMoney(s)
	if err != nil {
		panic(err)
	}
	return &m
}

func TestEffective(t *testing.T) {
	def := Builtin()
	tests := []struct {
		name                     string
		groupCfg, groupSet, user Limits
		key                      string
		want                     string
		wantSource               Source
	}{
		{"default", Limits{}, Limits{}, Limits{}, "max_instances", "20", SourceDefault},
		{"unset everywhere", Limits{}, Limits{}, Limits{}, "budget", "unlimited", SourceDefault},
		{"group config", Limits{MaxInstances: Int(4)}, Limits{}, Limits{}, "max_instances", "4", SourceGroupConfig},
		{"group override beats config", Limits{MaxInstances: Int(4)}, Limits{MaxInstances: Int(6)}, Limits{}, "max_instances", "6", SourceGroup},
		{"user beats group", Limits{MaxInstances: Int(4)}, Limits{MaxInstances: Int(6)}, Limits{MaxInstances: Int(1)}, "max_instances", "1", SourceUser},
		{"zero is a limit", Limits{MaxAddresses: Int(0)}, Limits{}, Limits{}, "max_addresses", "0", SourceGroupConfig},
		{"group list", Limits{InstanceTypes: []string{"t3.micro"}}, Limits{}, Limits{}, "instance_types", "t3.micro", SourceGroupConfig},
		{"user lifts list", Limits{InstanceTypes: []string{"t3.micro"}}, Limits{}, Limits{InstanceTypes: []string{}}, "instance_types", "any", SourceUser},
		{"budget", Limits{Budget: money("50")}, Limits{}, Limits{Budget: money("12.5")}, "budget", "12.50", SourceUser},
		{"other keys untouched", Limits{}, Limits{}, Limits{MaxInstances: Int(1)}, "max_vcpus", "32", SourceDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Effective(def, tt.groupCfg, tt.groupSet, tt.user)
			if got := r.Limits.Format(tt.key); got != tt.want {
				t.Errorf("%s: got %s, want %s", tt.key, got, tt.want)
			}
			if got := r.Sources[tt.key]; got != tt.wantSource {
				t.Errorf("%s source: got %q, want %q", tt.key, got, tt.wantSource)
			}
			if len(r.Sources) != len(Keys()) {
				t.Errorf("got %d sources, want one per key (%d)", len(r.Sources), len(Keys()))
			}
			if got := EffectiveLimits(def, tt.groupCfg, tt.groupSet, tt.user); !reflect.DeepEqual(got, r.Limits) {
				t.Errorf("EffectiveLimits: got %+v, want Effective's %+v", got, r.Limits)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	lim := Limits{
		MaxInstances: Int(2), MaxVCPUs: Int(4), MaxAddresses: Int(1), MaxKeyPairs: Int(2),
		MaxSecurityGroups: Int(2), MaxVolumes: Int(2), MaxVolumeGiB: Int(20), MaxSnapshots: Int(1),
		InstanceTypes: []string{"t3.micro", "m1.small"}, Images: []string{"ami-1"}, Budget: money("10"),
	}
	one := Usage{Instances: map[string]int{"running": 1}, VCPUs: 2}
	tests := []struct {
		name     string
		lim      Limits
		u        Usage
		d        Delta
		wantCode string // "" for nil
		wantMsg  string
	}{
		{"fits", lim, one, Delta{Instances: 1, VCPUs: 2, InstanceType: "t3.micro", ImageID: "ami-1"}, "", ""},
		{"too many instances", lim, one, Delta{Instances: 3}, ec2err.InstanceLimitExceeded,
			"You have requested more instances (3) than your current instance limit of 2 allows for the specified instance type. Your course limit max_instances is 2 and 1 instance counts toward it"},
		{"stopped not counted", lim, Usage{Instances: map[string]int{"stopped": 2, "stopping": 1, "terminated": 5, "shutting-down": 1}}, Delta{Instances: 2}, "", ""},
		{"stopped counted", lim, Usage{Instances: map[string]int{"stopped": 1, "pending": 1}, CountStopped: true}, Delta{Instances: 1}, ec2err.InstanceLimitExceeded,
			"2 instances count toward it"},
		{"vcpus", lim, one, Delta{Instances: 1, VCPUs: 4}, ec2err.VcpuLimitExceeded,
			"You have requested more vCPU capacity (4) than your current vCPU limit of 4 allows. Your course limit max_vcpus is 4 and your instances use 2"},
		{"address", lim, Usage{Addresses: 1}, Delta{Addresses: 1}, ec2err.AddressLimitExceeded,
			"The maximum number of elastic IP addresses has been reached: your course limit max_addresses is 1, you have 1 and asked for 1 more."},
		{"volumes", lim, Usage{Volumes: 2}, Delta{Volumes: 1, VolumeGiB: 1}, ec2err.VolumeLimitExceeded, "your course limit max_volumes is 2"},
		{"volume GiB", lim, Usage{Volumes: 1, VolumeGiB: 15}, Delta{Volumes: 1, VolumeGiB: 8}, ec2err.VolumeLimitExceeded,
			"The maximum number of GiB of volume storage has been reached: your course limit max_volume_gib is 20, you have 15 and asked for 8 more."},
		{"snapshots", lim, Usage{Snapshots: 1}, Delta{Snapshots: 1}, ec2err.ResourceLimitExceeded, "your course limit max_snapshots is 1"},
		{"key pairs", lim, Usage{KeyPairs: 2}, Delta{KeyPairs: 1}, ec2err.ResourceLimitExceeded, "your course limit max_key_pairs is 2"},
		{"security groups", lim, Usage{SecurityGroups: 2}, Delta{SecurityGroups: 1}, ec2err.SecurityGroupLimitExceeded, "your course limit max_security_groups is 2"},
		{"network interfaces", Limits{MaxNetworkInterfaces: Int(3)}, Usage{NetworkInterfaces: 3}, Delta{NetworkInterfaces: 1}, ec2err.NetworkInterfaceLimitExceeded,
			"The maximum number of network interfaces has been reached: your course limit max_network_interfaces is 3, you have 3 and asked for 1 more."},
		{"instance type", lim, Usage{}, Delta{Instances: 1, InstanceType: "m5.large"}, ec2err.InvalidParameterValue,
			"Value (m5.large) for parameter InstanceType is invalid. Your course does not allow this instance type (instance_types); you may use: t3.micro, m1.small."},
		{"image", lim, Usage{}, Delta{Instances: 1, ImageID: "ami-2"}, ec2err.InvalidParameterValue,
			"Value (ami-2) for parameter ImageId is invalid. Your course does not allow this image (images); you may use: ami-1."},
		{"budget spent", lim, Usage{Spent: *money("10.000001")}, Delta{Instances: 1}, ec2err.ResourceLimitExceeded,
			"Your course budget of 10.00 is spent (10.000001 used), so no instance may be launched or started."},
		{"budget not for volumes", lim, Usage{Spent: *money("11")}, Delta{Volumes: 1}, "", ""},
		{"over a lowered limit, releasing is fine", lim, Usage{Addresses: 5, Instances: map[string]int{"running": 9}}, Delta{}, "", ""},
		{"zero allows none", Limits{MaxAddresses: Int(0)}, Usage{}, Delta{Addresses: 1}, ec2err.AddressLimitExceeded, "max_addresses is 0"},
		{"unset is unlimited", Limits{}, Usage{Instances: map[string]int{"running": 1000}}, Delta{Instances: 1000, VCPUs: 8000, InstanceType: "x", ImageID: "y"}, "", ""},
		{"empty list allows all", Limits{InstanceTypes: []string{}}, Usage{}, Delta{Instances: 1, InstanceType: "x"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.lim, tt.u, tt.d)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			e, ok := err.(*ec2err.Error)
			if !ok {
				t.Fatalf("got %v, want %s", err, tt.wantCode)
			}
			if e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("got %s %q, want %s ...%s...", e.Code, e.Message, tt.wantCode, tt.wantMsg)
			}
			if !ec2err.Known(e.Code) || e.Status() != 400 {
				t.Errorf("code %s: got status %d, want a declared 400", e.Code, e.Status())
			}
		})
	}
}

func TestFit(t *testing.T) {
	lim := Limits{MaxInstances: Int(5), MaxVCPUs: Int(8)}
	tests := []struct {
		name     string
		lim      Limits
		u        Usage
		vcpus    int
		min, max int
		want     int
		wantCode string
	}{
		{"all fit", lim, Usage{}, 1, 1, 3, 3, ""},
		{"capped by instances", lim, Usage{Instances: map[string]int{"running": 2}}, 1, 1, 10, 3, ""},
		{"capped by vcpus", lim, Usage{}, 2, 1, 10, 4, ""},
		{"vcpus with usage", lim, Usage{Instances: map[string]int{"running": 1}, VCPUs: 2}, 4, 1, 10, 1, ""},
		{"exactly min", lim, Usage{Instances: map[string]int{"running": 3}}, 1, 2, 10, 2, ""},
		{"fewer than min", lim, Usage{Instances: map[string]int{"running": 4}}, 1, 2, 10, 0, ec2err.InstanceLimitExceeded},
		{"vcpus fewer than min", lim, Usage{}, 4, 3, 3, 0, ec2err.VcpuLimitExceeded},
		{"no limits", Limits{}, Usage{}, 2, 1, 1000, 1000, ""},
		{"a thousand asked, twenty fit", Builtin(), Usage{}, 1, 1, 1000, 20, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fit(tt.lim, tt.u, Delta{VCPUs: tt.vcpus}, tt.min, tt.max)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if (err == nil) != (tt.wantCode == "") || (err != nil && !ec2err.Is(err, tt.wantCode)) {
				t.Errorf("got error %v, want code %q", err, tt.wantCode)
			}
		})
	}
	// The message names what was asked for: MinCount.
	_, err := Fit(lim, Usage{Instances: map[string]int{"running": 4}}, Delta{}, 2, 10)
	if err == nil || !strings.Contains(err.Error(), "requested more instances (2)") {
		t.Errorf("got %v, want the MinCount of 2 in the message", err)
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		in, want string
		micros   Money
	}{
		{"12.50", "12.50", 12_500_000},
		{"12", "12.00", 12_000_000},
		{"0.0125", "0.0125", 12_500},
		{" 7.000001 ", "7.000001", 7_000_001},
		{"0", "0.00", 0},
	}
	for _, tt := range tests {
		m, err := ParseMoney(tt.in)
		if err != nil || m != tt.micros || m.String() != tt.want {
			t.Errorf("ParseMoney(%q): got %d %q %v, want %d %q", tt.in, m, m.String(), err, tt.micros, tt.want)
		}
	}
	for _, bad := range []string{"", "-1", "1.2.3", "$5", "1.1234567", "12,50", "1e3", ".5", "99999999999999999999"} {
		if m, err := ParseMoney(bad); err == nil {
			t.Errorf("ParseMoney(%q): got %d, want an error", bad, m)
		}
	}
}

func TestParseAndProblems(t *testing.T) {
	tests := []struct {
		key, text string
		want      string // Format after Parse, or the error substring
		wantErr   bool
	}{
		{"max_instances", "4", "4", false},
		{"max_instances", "0", "0", false},
		{"max_instances", "-1", "must be >= 0, got -1", true},
		{"max_instances", "four", `"four" is not a whole number`, true},
		{"max_running_hours", "0", "must be at least 1 (hours), got 0", true},
		{"instance_types", "t3.micro, m1.small", "t3.micro,m1.small", false},
		{"instance_types", "", "any", false},
		{"images", "ami-1,ami-1", `"ami-1" is listed twice`, true},
		{"budget", "12.5", "12.50", false},
		{"budget", "lots", `invalid amount "lots"`, true},
		{"max_cats", "1", `unknown limit "max_cats"`, true},
	}
	for _, tt := range tests {
		var l Limits
		err := l.Parse(tt.key, tt.text)
		switch {
		case tt.wantErr && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Parse(%s, %q): got %v, want error ...%s...", tt.key, tt.text, err, tt.want)
		case !tt.wantErr && err != nil:
			t.Errorf("Parse(%s, %q): got %v, want nil", tt.key, tt.text, err)
		case !tt.wantErr && l.Format(tt.key) != tt.want:
			t.Errorf("Parse(%s, %q): got %s, want %s", tt.key, tt.text, l.Format(tt.key), tt.want)
		case tt.wantErr && !l.Empty():
			t.Errorf("Parse(%s, %q) failed but set the limit", tt.key, tt.text)
		}
	}
}

// Unset and the empty list both survive the store's JSON and the config's
// YAML: they mean different things (inherit vs allow all).
func TestEncodingKeepsUnsetApartFromEmpty(t *testing.T) {
	in := Limits{MaxInstances: Int(0), InstanceTypes: []string{}, Images: []string{"ami-1"}, Budget: money("12.5")}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"max_instances":0,"instance_types":[],"images":["ami-1"],"budget":"12.50"}`; string(raw) != want {
		t.Errorf("got %s, want %s", raw, want)
	}
	var back Limits
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, in) || back.InstanceTypes == nil || back.MaxVCPUs != nil {
		t.Errorf("JSON round trip: got %+v, want %+v", back, in)
	}

	var y Limits
	if err := yaml.Unmarshal([]byte("max_instances: 0\ninstance_types: []\nimages: [ami-1]\nbudget: 12.50\n"), &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, in) || y.InstanceTypes == nil {
		t.Errorf("YAML: got %+v, want %+v", y, in)
	}
	if err := yaml.Unmarshal([]byte("budget: 12.1234567\n"), &y); err == nil || !strings.Contains(err.Error(), "into quota.Money") {
		t.Errorf("YAML bad budget: got %v, want a type error", err)
	}
}

func TestMergeAndUnset(t *testing.T) {
	l := Limits{MaxInstances: Int(1), Images: []string{"ami-1"}}
	l.Merge(Limits{MaxInstances: Int(3), MaxVCPUs: Int(2)})
	if l.Format("max_instances") != "3" || l.Format("max_vcpus") != "2" || l.Format("images") != "ami-1" {
		t.Errorf("Merge: got %+v", l)
	}
	if err := l.Unset("max_instances", "images"); err != nil {
		t.Fatal(err)
	}
	if l.IsSet("max_instances") || l.IsSet("images") || !l.IsSet("max_vcpus") {
		t.Errorf("Unset: got %+v, want only max_vcpus set", l)
	}
	if err := l.Unset("max_cats"); err == nil {
		t.Error("Unset(max_cats): got nil, want an error")
	}
}

// Effective runs inside every launch's transaction (the quota check), on
// the store's one committer.
func BenchmarkEffective(b *testing.B) {
	defaults, group, user := Builtin(), Limits{MaxInstances: Int(3)}, Limits{MaxVCPUs: Int(4)}
	b.ReportAllocs()
	for b.Loop() {
		Effective(defaults, group, Limits{}, user)
	}
}

// EffectiveLimits is what a launch resolves.
func BenchmarkEffectiveLimits(b *testing.B) {
	defaults, group, user := Builtin(), Limits{MaxInstances: Int(3)}, Limits{MaxVCPUs: Int(4)}
	b.ReportAllocs()
	for b.Loop() {
		EffectiveLimits(defaults, group, Limits{}, user)
	}
}

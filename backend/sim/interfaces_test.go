package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/store"
)

// An interface holds its address in the machines' allocation from
// HoldAddress to ReleaseAddress; a machine launched on it uses the address
// and leaves it held when it terminates.
func TestInterfaceAddresses(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	ctx := context.Background()
	b := newSim(t, st, clock.Now).(backend.InterfaceAddresses)
	run := newSim(t, st, clock.Now)
	sn := backend.Subnet{ID: "subnet-c", VpcID: "vpc-own1", CIDR: "10.1.2.0/24"}
	hold := func(iface, want string) (string, error) {
		var ip string
		err := st.Update(func(tx store.Tx) (err error) {
			ip, _, err = b.HoldAddress(tx, iface, sn, want)
			return err
		})
		return ip, err
	}
	launch := func(id, want, iface string) (backend.Machine, error) {
		return run.Run(ctx, &backend.LaunchContext{InstanceID: id, InstanceType: backend.InstanceType{Name: "t3.micro"}, Subnet: sn, PrivateIP: want, Interface: iface})
	}
	code := func(err error) string {
		var be *backend.Error
		if errors.As(err, &be) {
			return be.Code
		}
		if err != nil {
			return err.Error()
		}
		return ""
	}
	if ip, err := hold("eni-00000000000000001", "10.1.2.20"); err != nil || ip != "10.1.2.20" {
		t.Fatalf("HoldAddress 10.1.2.20: got %s, %v", ip, err)
	}
	cases := []struct {
		name       string
		do         func() (string, error)
		want, code string
	}{
		{"another interface, same address", func() (string, error) { return hold("eni-00000000000000002", "10.1.2.20") }, "", "InvalidIPAddress.InUse"},
		{"a machine, same address", func() (string, error) {
			m, err := launch("i-00000000000000001", "10.1.2.20", "")
			return m.PrivateIP, err
		}, "", "InvalidIPAddress.InUse"},
		{"a machine on the interface", func() (string, error) {
			m, err := launch("i-00000000000000002", "10.1.2.20", "eni-00000000000000001")
			return m.PrivateIP, err
		}, "10.1.2.20", ""},
		{"a machine on an interface not holding it", func() (string, error) {
			m, err := launch("i-00000000000000003", "10.1.2.20", "eni-00000000000000009")
			return m.PrivateIP, err
		}, "", "InvalidIPAddress.InUse"},
	}
	for _, c := range cases {
		got, err := c.do()
		if got != c.want || code(err) != c.code {
			t.Errorf("%s: got %q, %q; want %q, %q", c.name, got, code(err), c.want, c.code)
		}
	}
	if _, err := run.Terminate(ctx, "sim-00000000000000002"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if _, err := hold("eni-00000000000000002", "10.1.2.20"); code(err) != "InvalidIPAddress.InUse" {
		t.Errorf("after the machine on it terminated: got %q, want the interface still holding 10.1.2.20", code(err))
	}
	if err := st.Update(func(tx store.Tx) error { return b.ReleaseAddress(tx, "eni-00000000000000001", sn, "10.1.2.20") }); err != nil {
		t.Fatal(err)
	}
	if ip, err := hold("eni-00000000000000002", "10.1.2.20"); err != nil || ip != "10.1.2.20" {
		t.Errorf("after ReleaseAddress: got %s, %v; want 10.1.2.20 free again", ip, err)
	}
}

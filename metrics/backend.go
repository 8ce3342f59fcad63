package metrics

import (
	"context"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// Abilities meters a backend's calls, each optional ability's too:
// latency and errors by operation. An ability a lacks stays nil, so the
// wrapper neither hides nor invents one.
func (m *Metrics) Abilities(a backend.Abilities) backend.Abilities {
	out := backend.Abilities{Backend: meteredCore{a.Backend, m}}
	if a.TxLauncher != nil {
		out.TxLauncher = meteredTx{a.TxLauncher, m}
	}
	if a.Finder != nil {
		out.Finder = meteredFinder{a.Finder, m}
	}
	if a.Volumes != nil {
		out.Volumes = meteredVolumes{a.Volumes, m}
	}
	if a.SecurityGroups != nil {
		out.SecurityGroups = meteredGroups{a.SecurityGroups, m}
	}
	if a.KeyPairs != nil {
		out.KeyPairs = meteredKeys{a.KeyPairs, m}
	}
	if a.Addresses != nil {
		out.Addresses = meteredAddresses{a.Addresses, m}
	}
	if a.Settings != nil {
		out.Settings = meteredSettings{a.Settings, m}
	}
	if a.Images != nil {
		out.Images = meteredImages{a.Images, m}
	}
	out.Network = a.Network // answered from memory: nothing to meter
	// Store work in the caller's transaction, metered with the store.
	out.Interfaces = a.Interfaces
	out.Settled = a.Settled // no call: a statement about the backend
	return out
}

// call runs one backend call of operation op and records it.
func call[T any](m *Metrics, op string, fn func() (T, error)) (T, error) {
	start := time.Now()
	v, err := fn()
	if m != nil {
		m.backendLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
		if err != nil {
			m.backendErrors.WithLabelValues(op).Inc()
		}
	}
	return v, err
}

// call0 is call for operations that return only an error.
func call0(m *Metrics, op string, fn func() error) error {
	_, err := call(m, op, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// meteredCore is the core backend.Backend.
type meteredCore struct {
	b backend.Backend
	m *Metrics
}

func (c meteredCore) Run(ctx context.Context, lc *backend.LaunchContext) (backend.Machine, error) {
	return call(c.m, "run", func() (backend.Machine, error) { return c.b.Run(ctx, lc) })
}

func (c meteredCore) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	return call(c.m, "describe", func() ([]backend.Machine, error) { return c.b.Describe(ctx, ids) })
}

func (c meteredCore) Stop(ctx context.Context, id string, force bool) (backend.Machine, error) {
	return call(c.m, "stop", func() (backend.Machine, error) { return c.b.Stop(ctx, id, force) })
}

func (c meteredCore) Start(ctx context.Context, id string) (backend.Machine, error) {
	return call(c.m, "start", func() (backend.Machine, error) { return c.b.Start(ctx, id) })
}

func (c meteredCore) Reboot(ctx context.Context, id string) error {
	return call0(c.m, "reboot", func() error { return c.b.Reboot(ctx, id) })
}

func (c meteredCore) Terminate(ctx context.Context, id string) (backend.Machine, error) {
	return call(c.m, "terminate", func() (backend.Machine, error) { return c.b.Terminate(ctx, id) })
}

func (c meteredCore) ConsoleOutput(ctx context.Context, id string) (string, error) {
	return call(c.m, "console_output", func() (string, error) { return c.b.ConsoleOutput(ctx, id) })
}

func (c meteredCore) Close() error { return c.b.Close() }

// meteredTx is backend.TxLauncher. Its time is spent inside the caller's
// store transaction.
type meteredTx struct {
	b backend.TxLauncher
	m *Metrics
}

func (t meteredTx) RunInTx(tx store.Tx, lc *backend.LaunchContext) (backend.Machine, error) {
	return call(t.m, "run_in_tx", func() (backend.Machine, error) { return t.b.RunInTx(tx, lc) })
}

// meteredFinder is backend.LaunchFinder.
type meteredFinder struct {
	b backend.LaunchFinder
	m *Metrics
}

type found struct {
	m  backend.Machine
	ok bool
}

func (f meteredFinder) FindLaunch(ctx context.Context, instanceID string) (backend.Machine, bool, error) {
	r, err := call(f.m, "find_launch", func() (found, error) {
		m, ok, err := f.b.FindLaunch(ctx, instanceID)
		return found{m, ok}, err
	})
	return r.m, r.ok, err
}

// meteredVolumes is backend.Volumes.
type meteredVolumes struct {
	b backend.Volumes
	m *Metrics
}

func (v meteredVolumes) CreateVolume(ctx context.Context, spec backend.VolumeSpec) (time.Time, error) {
	return call(v.m, "create_volume", func() (time.Time, error) { return v.b.CreateVolume(ctx, spec) })
}

func (v meteredVolumes) DeleteVolume(ctx context.Context, volumeID string) (time.Time, error) {
	return call(v.m, "delete_volume", func() (time.Time, error) { return v.b.DeleteVolume(ctx, volumeID) })
}

func (v meteredVolumes) AttachVolume(ctx context.Context, volumeID, machineID, device string) (time.Time, error) {
	return call(v.m, "attach_volume", func() (time.Time, error) { return v.b.AttachVolume(ctx, volumeID, machineID, device) })
}

func (v meteredVolumes) DetachVolume(ctx context.Context, volumeID, machineID string, force bool) (time.Time, error) {
	return call(v.m, "detach_volume", func() (time.Time, error) { return v.b.DetachVolume(ctx, volumeID, machineID, force) })
}

func (v meteredVolumes) CreateSnapshot(ctx context.Context, snapshotID, volumeID string) (time.Time, error) {
	return call(v.m, "create_snapshot", func() (time.Time, error) { return v.b.CreateSnapshot(ctx, snapshotID, volumeID) })
}

func (v meteredVolumes) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	return call0(v.m, "delete_snapshot", func() error { return v.b.DeleteSnapshot(ctx, snapshotID) })
}

func (v meteredVolumes) ModifyVolume(ctx context.Context, spec backend.VolumeSpec) (time.Time, error) {
	return call(v.m, "modify_volume", func() (time.Time, error) { return v.b.ModifyVolume(ctx, spec) })
}

// meteredGroups is backend.SecurityGroups.
type meteredGroups struct {
	b backend.SecurityGroups
	m *Metrics
}

func (g meteredGroups) CreateGroup(ctx context.Context, spec backend.GroupSpec) error {
	return call0(g.m, "create_group", func() error { return g.b.CreateGroup(ctx, spec) })
}

func (g meteredGroups) DeleteGroup(ctx context.Context, groupID string) error {
	return call0(g.m, "delete_group", func() error { return g.b.DeleteGroup(ctx, groupID) })
}

func (g meteredGroups) Authorize(ctx context.Context, groupID string, rules []backend.Rule) error {
	return call0(g.m, "authorize", func() error { return g.b.Authorize(ctx, groupID, rules) })
}

func (g meteredGroups) Revoke(ctx context.Context, groupID string, rules []backend.Rule) error {
	return call0(g.m, "revoke", func() error { return g.b.Revoke(ctx, groupID, rules) })
}

// meteredKeys is backend.KeyPairs.
type meteredKeys struct {
	b backend.KeyPairs
	m *Metrics
}

func (k meteredKeys) ImportKey(ctx context.Context, spec backend.KeySpec) error {
	return call0(k.m, "import_key", func() error { return k.b.ImportKey(ctx, spec) })
}

func (k meteredKeys) DeleteKey(ctx context.Context, keyID string) error {
	return call0(k.m, "delete_key", func() error { return k.b.DeleteKey(ctx, keyID) })
}

// meteredAddresses is backend.Addresses.
type meteredAddresses struct {
	b backend.Addresses
	m *Metrics
}

func (a meteredAddresses) AllocateAddress(ctx context.Context, spec backend.AddressSpec) (string, error) {
	return call(a.m, "allocate_address", func() (string, error) { return a.b.AllocateAddress(ctx, spec) })
}

func (a meteredAddresses) ReleaseAddress(ctx context.Context, allocationID string) error {
	return call0(a.m, "release_address", func() error { return a.b.ReleaseAddress(ctx, allocationID) })
}

func (a meteredAddresses) AssociateAddress(ctx context.Context, allocationID, machineID string) error {
	return call0(a.m, "associate_address", func() error { return a.b.AssociateAddress(ctx, allocationID, machineID) })
}

func (a meteredAddresses) DisassociateAddress(ctx context.Context, allocationID string) error {
	return call0(a.m, "disassociate_address", func() error { return a.b.DisassociateAddress(ctx, allocationID) })
}

// meteredSettings is backend.InstanceSettings.
type meteredSettings struct {
	b backend.InstanceSettings
	m *Metrics
}

func (s meteredSettings) ApplySettings(ctx context.Context, machineID string, set backend.MachineSettings) error {
	return call0(s.m, "apply_settings", func() error { return s.b.ApplySettings(ctx, machineID, set) })
}

// meteredImages is backend.Images.
type meteredImages struct {
	b backend.Images
	m *Metrics
}

func (i meteredImages) CreateImage(ctx context.Context, imageID, machineID string, noReboot bool) (time.Time, error) {
	return call(i.m, "create_image", func() (time.Time, error) { return i.b.CreateImage(ctx, imageID, machineID, noReboot) })
}

func (i meteredImages) CopySnapshot(ctx context.Context, snapshotID, sourceID string) (time.Time, error) {
	return call(i.m, "copy_snapshot", func() (time.Time, error) { return i.b.CopySnapshot(ctx, snapshotID, sourceID) })
}

func (i meteredImages) DeregisterImage(ctx context.Context, imageID string) error {
	return call0(i.m, "deregister_image", func() error { return i.b.DeregisterImage(ctx, imageID) })
}

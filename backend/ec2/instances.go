package ec2

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// Template keys mapping what a student asks for to what AWS runs: an
// instance type's settings.aws_type and an image's mapping.aws_image
// (left out, the names are AWS's own).
const (
	SettingType  = "aws_type"
	MappingImage = "aws_image"
)

// describeBatch is how many instances one DescribeInstances asks for
// (EC2 takes at most 200 values in a filter).
const describeBatch = 200

func or(m map[string]string, key, def string) string {
	if v := m[key]; v != "" {
		return v
	}
	return def
}

// Run launches lc's machine with RunInstances. Its ClientToken is made
// from the student and econe's instance id, so asking again (a retried
// request, a recovery) returns the same instance.
func (b *EC2) Run(ctx context.Context, lc *backend.LaunchContext) (backend.Machine, error) {
	if lc.Subnet.ID != "" && !lc.Subnet.Shared {
		// A student's own VPC is a record here, not a network in AWS.
		return backend.Machine{}, &backend.Error{Code: ec2err.UnsupportedOperation, Message: fmt.Sprintf(
			"Instances on this endpoint run only in your default VPC (the course's network); subnet %s is in VPC %s, which has no machines behind it.", lc.Subnet.ID, lc.Subnet.VpcID)}
	}
	groups, err := b.launchGroups(ctx, lc.Owner, lc.Groups)
	if err != nil {
		return backend.Machine{}, err
	}
	devices, err := b.launchDevices(lc)
	if err != nil {
		return backend.Machine{}, err
	}
	instanceTags := b.tagSpec(types.ResourceTypeInstance, lc.InstanceID, lc.Owner)
	for k, v := range lc.Tags {
		if !strings.HasPrefix(k, "econe:") {
			instanceTags.Tags = append(instanceTags.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
	}
	in := &ec2.RunInstancesInput{
		ImageId:             aws.String(or(lc.Image.Mapping, MappingImage, lc.Image.ID)),
		InstanceType:        types.InstanceType(or(lc.InstanceType.Settings, SettingType, lc.InstanceType.Name)),
		MinCount:            aws.Int32(1),
		MaxCount:            aws.Int32(1),
		ClientToken:         b.token(lc.Owner, lc.InstanceID),
		SecurityGroupIds:    groups,
		BlockDeviceMappings: devices,
		// The volumes made at launch are tagged with econe's ids as they
		// are first used (launchVolume); until then they carry the owner's.
		TagSpecifications: []types.TagSpecification{instanceTags, b.tagSpec(types.ResourceTypeVolume, "", lc.Owner)},
	}
	if lc.KeyName != "" {
		in.KeyName = aws.String(b.name(lc.Owner, lc.KeyName))
	}
	if len(lc.UserData) > 0 {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString(lc.UserData))
	}
	if lc.ShutdownBehavior != "" {
		in.InstanceInitiatedShutdownBehavior = types.ShutdownBehavior(lc.ShutdownBehavior)
	}
	if lc.PrivateIP != "" {
		in.PrivateIpAddress = aws.String(lc.PrivateIP) // AWS checks it against its subnet
	}
	if b.cfg.SubnetID != "" {
		in.SubnetId = aws.String(b.cfg.SubnetID)
	} else if lc.Zone != "" {
		in.Placement = &types.Placement{AvailabilityZone: aws.String(lc.Zone)}
	}
	if lc.AssociatePublicIP != nil {
		// AWS takes it only on a network interface, which then carries
		// the subnet, groups and address in place of the request's.
		in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), AssociatePublicIpAddress: lc.AssociatePublicIP,
			SubnetId: in.SubnetId, Groups: in.SecurityGroupIds, PrivateIpAddress: in.PrivateIpAddress,
		}}
		in.SubnetId, in.SecurityGroupIds, in.PrivateIpAddress = nil, nil, nil
	}
	out, err := b.api.RunInstances(ctx, in)
	if err != nil {
		return backend.Machine{}, b.awsError("RunInstances", err)
	}
	if len(out.Instances) == 0 {
		return backend.Machine{}, b.awsError("RunInstances", errNoInstance)
	}
	inst := out.Instances[0]
	if err := b.rememberLaunchVolumes(lc, aws.ToString(inst.InstanceId)); err != nil {
		return backend.Machine{}, err
	}
	return b.observe(inst), nil
}

// launchDevices are lc's volumes as block device mappings, deleted with
// the instance as the student asked (econe-server then deletes them
// again, which finds nothing to do).
func (b *EC2) launchDevices(lc *backend.LaunchContext) ([]types.BlockDeviceMapping, error) {
	var out []types.BlockDeviceMapping
	for _, v := range lc.Volumes {
		ebs := &types.EbsBlockDevice{VolumeSize: aws.Int32(int32(v.SizeGiB)), DeleteOnTermination: aws.Bool(v.DeleteOnTermination)}
		if v.SnapshotID != "" {
			sid := b.mapped(v.SnapshotID)
			if sid == "" {
				return nil, &backend.Error{Code: "InvalidSnapshot.NotFound", Message: "The snapshot '" + v.SnapshotID + "' does not exist."}
			}
			ebs.SnapshotId = aws.String(sid)
		}
		out = append(out, types.BlockDeviceMapping{DeviceName: aws.String(v.Device), Ebs: ebs})
	}
	return out, nil
}

// observe is the backend.Machine of an instance AWS described, kept in
// the describe cache. Changed is when econe-server first saw the state
// (AWS does not say when it was entered), the launch time for a new one.
func (b *EC2) observe(in types.Instance) backend.Machine {
	now := b.now()
	m := backend.Machine{ID: aws.ToString(in.InstanceId), Changed: now}
	if in.State != nil {
		m.State = backend.State(in.State.Name)
	}
	if m.State != backend.Terminated {
		m.PrivateIP, m.PrivateDNSName = aws.ToString(in.PrivateIpAddress), aws.ToString(in.PrivateDnsName)
		m.PublicIP = aws.ToString(in.PublicIpAddress)
	}
	if r := in.StateReason; r != nil && m.State != backend.Running && m.State != backend.Pending && aws.ToString(r.Code) != "Client.UserInitiatedShutdown" {
		m.Reason = aws.ToString(r.Code)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.cache[m.ID]; ok && c.m.State == m.State {
		m.Changed = c.m.Changed
	} else if !ok && m.State == backend.Pending && in.LaunchTime != nil {
		m.Changed = in.LaunchTime.UTC()
	}
	b.cache[m.ID] = cached{m: m, at: now}
	return m
}

// Describe reports ids in order, from the cache when it was read within
// describe_cache, else from DescribeInstances in batches; an id AWS does
// not know is terminated.
func (b *EC2) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	if len(ids) == 0 { // the readiness probe: does AWS answer?
		if _, err := b.api.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{}); err != nil {
			return nil, b.awsError("DescribeAvailabilityZones", err)
		}
		return nil, nil
	}
	now := b.now()
	out := make([]backend.Machine, len(ids))
	var ask []string
	b.mu.Lock()
	for i, id := range ids {
		if c, ok := b.cache[id]; ok && now.Sub(c.at) < b.cfg.DescribeCache.D() {
			out[i] = c.m
		} else {
			ask = append(ask, id)
		}
	}
	b.mu.Unlock()
	if len(ask) == 0 {
		return out, nil
	}
	found, err := b.fetch(ctx, ask)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if out[i].ID != "" {
			continue
		}
		m, ok := found[id]
		if !ok {
			m = backend.Machine{ID: id, State: backend.Terminated, Changed: now}
			b.mu.Lock()
			b.cache[id] = cached{m: m, at: now}
			b.mu.Unlock()
		}
		out[i] = m
	}
	return out, nil
}

// fetch describes ids from AWS; those it does not know are missing.
func (b *EC2) fetch(ctx context.Context, ids []string) (map[string]backend.Machine, error) {
	found := map[string]backend.Machine{}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), describeBatch)]
		ids = ids[len(batch):]
		err := b.eachInstance(ctx, &ec2.DescribeInstancesInput{
			Filters: []types.Filter{{Name: aws.String("instance-id"), Values: batch}},
		}, func(in types.Instance) {
			found[aws.ToString(in.InstanceId)] = b.observe(in)
		})
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// eachInstance calls fn for every instance DescribeInstances answers, page
// by page.
func (b *EC2) eachInstance(ctx context.Context, in *ec2.DescribeInstancesInput, fn func(types.Instance)) error {
	p := ec2.NewDescribeInstancesPaginator(b.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.awsError("DescribeInstances", err)
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				fn(inst)
			}
		}
	}
	return nil
}

// current is id's state read now from AWS: ErrNotFound when AWS does not
// know it.
func (b *EC2) current(ctx context.Context, id string) (backend.Machine, error) {
	found, err := b.fetch(ctx, []string{id})
	if err != nil {
		return backend.Machine{}, err
	}
	m, ok := found[id]
	if !ok {
		return backend.Machine{}, backend.ErrNotFound
	}
	return m, nil
}

// need checks, before a call, that id is in one of the states the call
// allows: EC2 itself accepts some calls econe's contract refuses (starting
// a running instance, stopping a stopped one).
func (b *EC2) need(ctx context.Context, id string, ok ...backend.State) error {
	m, err := b.current(ctx, id)
	if err != nil {
		return err
	}
	for _, s := range ok {
		if m.State == s {
			return nil
		}
	}
	return backend.ErrIncorrectState
}

// instanceError is an AWS refusal of a call naming one instance: an
// instance AWS does not know (or an id it cannot read) is not found.
func (b *EC2) instanceError(op string, err error) error {
	switch code(err) {
	case "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed":
		return backend.ErrNotFound
	}
	return b.awsError(op, err)
}

func (b *EC2) changed(id string, s *types.InstanceState) backend.Machine {
	in := types.Instance{InstanceId: aws.String(id), State: s}
	if c, ok := b.cached(id); ok {
		in.PrivateIpAddress, in.PrivateDnsName = aws.String(c.PrivateIP), aws.String(c.PrivateDNSName)
	}
	return b.observe(in)
}

func (b *EC2) cached(id string) (backend.Machine, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.cache[id]
	return c.m, ok
}

// Stop stops a running machine.
func (b *EC2) Stop(ctx context.Context, id string, force bool) (backend.Machine, error) {
	if err := b.need(ctx, id, backend.Running, backend.Stopping); err != nil {
		return backend.Machine{}, err
	}
	out, err := b.api.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}, Force: aws.Bool(force)})
	if err != nil {
		return backend.Machine{}, b.instanceError("StopInstances", err)
	}
	if len(out.StoppingInstances) == 0 {
		return backend.Machine{}, b.awsError("StopInstances", errNoInstance)
	}
	return b.changed(id, out.StoppingInstances[0].CurrentState), nil
}

// Start starts a stopped machine.
func (b *EC2) Start(ctx context.Context, id string) (backend.Machine, error) {
	if err := b.need(ctx, id, backend.Stopped); err != nil {
		return backend.Machine{}, err
	}
	out, err := b.api.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return backend.Machine{}, b.instanceError("StartInstances", err)
	}
	if len(out.StartingInstances) == 0 {
		return backend.Machine{}, b.awsError("StartInstances", errNoInstance)
	}
	return b.changed(id, out.StartingInstances[0].CurrentState), nil
}

// Reboot reboots a running machine.
func (b *EC2) Reboot(ctx context.Context, id string) error {
	if err := b.need(ctx, id, backend.Running); err != nil {
		return err
	}
	if _, err := b.api.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{id}}); err != nil {
		return b.instanceError("RebootInstances", err)
	}
	return nil
}

// Terminate terminates a machine; one AWS does not know is terminated.
func (b *EC2) Terminate(ctx context.Context, id string) (backend.Machine, error) {
	out, err := b.api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if err = b.instanceError("TerminateInstances", err); err != backend.ErrNotFound {
			return backend.Machine{}, err
		}
	}
	if err != nil || len(out.TerminatingInstances) == 0 {
		return b.changed(id, &types.InstanceState{Name: types.InstanceStateNameTerminated}), nil
	}
	t := out.TerminatingInstances[0]
	if t.PreviousState != nil && t.PreviousState.Name == types.InstanceStateNameTerminated {
		return b.changed(id, t.PreviousState), nil // was terminated already
	}
	return b.changed(id, t.CurrentState), nil
}

// ConsoleOutput is the machine's console, as AWS last captured it.
func (b *EC2) ConsoleOutput(ctx context.Context, id string) (string, error) {
	out, err := b.api.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
	if err != nil {
		return "", b.instanceError("GetConsoleOutput", err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil {
		return aws.ToString(out.Output), nil
	}
	return string(raw), nil
}

// FindLaunch finds the instance a Run for instanceID made, by its econe:id
// tag: a launch whose answer a crash lost is found, never made twice.
func (b *EC2) FindLaunch(ctx context.Context, instanceID string) (backend.Machine, bool, error) {
	var found []backend.Machine
	err := b.eachInstance(ctx, &ec2.DescribeInstancesInput{Filters: b.byTag(instanceID)}, func(in types.Instance) {
		found = append(found, b.observe(in))
	})
	if err != nil || len(found) == 0 {
		return backend.Machine{}, false, err
	}
	for _, m := range found {
		if m.State != backend.Terminated {
			return m, true, nil
		}
	}
	return found[0], true, nil
}

// The volumes a launch made are known by instance and device until first
// used: "launchvol/<econe volume id>" holds "<instance id> <device>".
const launchVolPrefix = "launchvol/"

func (b *EC2) rememberLaunchVolumes(lc *backend.LaunchContext, instanceID string) error {
	if len(lc.Volumes) == 0 {
		return nil
	}
	return b.st.Update(func(tx store.SpaceTx) error {
		for _, v := range lc.Volumes {
			if err := tx.Put(launchVolPrefix+v.VolumeID, []byte(instanceID+" "+v.Device)); err != nil {
				return err
			}
		}
		return nil
	})
}

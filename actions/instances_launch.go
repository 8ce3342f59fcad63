package actions

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
)

// RunInstances: parsing the request, the launch (intent, backend, record,
// or one transaction for a TxLauncher backend), ClientToken replays, and
// the start-up recovery of launches a crash interrupted.

// launchRequest is a validated RunInstances.
type launchRequest struct {
	image              templates.Image
	itype              templates.InstanceType
	zone               string
	min, max           int
	keyName            string
	groupNames         []string
	groupIDs           []string
	userData           []byte
	shutdown           string
	disableTermination bool
	token              string
	tags, volumeTags   []store.Tag
	interfaceTags      []store.Tag // of the primary interface the launch makes
	mappings           []blockDeviceRequest
	options            store.InstanceOptions
	from               *store.Image // the student's image launched, nil for the catalog's
	net                netRequest
}

// runTagTypes are the resource types RunInstances tags.
var runTagTypes = []string{"instance", "volume", networkInterfaceResource}

func (s *Service) parseLaunch(p *query.Params, u *store.User) (*launchRequest, error) {
	lr := &launchRequest{keyName: p.String("KeyName"), groupNames: p.List("SecurityGroup"), groupIDs: p.List("SecurityGroupId"), token: p.String("ClientToken")}
	imageID, err := requiredID(p, "ImageId", "ami", ec2err.InvalidAMIIDMalformed)
	if err != nil {
		return nil, err
	}
	if lr.image, lr.from, err = s.launchImage(u, imageID); err != nil {
		return nil, err
	}
	var ok bool
	lr.itype = s.catalog().DefaultInstanceType()
	if name := p.String("InstanceType"); name != "" {
		if lr.itype, ok = s.catalog().InstanceType(name); !ok {
			return nil, ec2err.BadValue("InstanceType", name, "Invalid instance type. DescribeInstanceTypes lists the types this endpoint offers.")
		}
	}
	if lr.zone, err = s.launchZone(p.String("Placement.AvailabilityZone")); err != nil {
		return nil, err
	}
	if err := placementOffered(p.Struct("Placement")); err != nil {
		return nil, err
	}
	if lr.min, lr.max, err = launchCounts(p); err != nil {
		return nil, err
	}
	if lr.userData, err = userData(p, "UserData"); err != nil {
		return nil, err
	}
	if lr.shutdown, err = shutdownBehavior("InstanceInitiatedShutdownBehavior", p.String("InstanceInitiatedShutdownBehavior")); err != nil {
		return nil, err
	}
	if lr.disableTermination, err = p.Bool("DisableApiTermination", false); err != nil {
		return nil, err
	}
	if len(lr.token) > maxTokenLen {
		return nil, ec2err.BadValue("ClientToken", lr.token, "It must be at most 64 characters.")
	}
	tags, err := specTags(p, runTagTypes...)
	if err != nil {
		return nil, err
	}
	lr.tags, lr.volumeTags, lr.interfaceTags = tags["instance"], tags["volume"], tags[networkInterfaceResource]
	if err := mappingsSayWhat(p); err != nil {
		return nil, err
	}
	if lr.mappings, err = blockDeviceMappings(p); err != nil {
		return nil, err
	}
	if lr.net, err = parseLaunchNetwork(p, lr); err != nil {
		return nil, err
	}
	if lr.net.interfaceID != "" && len(lr.interfaceTags) > 0 { // EC2 fails a launch that makes no resource of a tagged type
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "TagSpecification network-interface tags the interface a launch makes; this one is launched on %s: tag it with CreateTags.", lr.net.interfaceID)
	}
	if lr.options, err = s.launchOptions(p, lr.itype); err != nil {
		return nil, err
	}
	lr.mappings = withImageDevices(lr.from, lr.mappings)
	return lr, nil
}

// placementOffered refuses the placements a course's cloud has no hardware
// for (dedicated hosts and instances, placement groups), which a launch
// would otherwise drop without a word.
func placementOffered(pl *query.Params) error {
	for _, name := range []string{"HostId", "HostResourceGroupArn", "Affinity", "GroupName", "GroupId", "PartitionNumber", "SpreadDomain"} {
		if pl.String(name) != "" {
			return ec2err.New(ec2err.UnsupportedOperation, "Placement.%s: there are no dedicated hosts or placement groups on this course's cloud; leave it out.", name)
		}
	}
	if t := pl.String("Tenancy"); t != "" && t != "default" {
		return ec2err.New(ec2err.UnsupportedOperation, "Placement.Tenancy %s: instances here run on shared hardware (tenancy default); leave it out.", t)
	}
	return nil
}

func (s *Service) launchZone(zone string) (string, error) {
	if zone == "" {
		return s.Config.AvailabilityZones[0], nil
	}
	if !s.validZone(zone) {
		return "", ec2err.New(ec2err.InvalidParameterValue, "Invalid availability zone: [%s]. Zones here: %s", zone, strings.Join(s.Config.AvailabilityZones, ", "))
	}
	return zone, nil
}

// launchCounts applies EC2's rule: 1 <= MinCount <= MaxCount.
func launchCounts(p *query.Params) (min, max int, err error) {
	for _, name := range []string{"MinCount", "MaxCount"} {
		if !p.Has(name) {
			return 0, 0, ec2err.Missing(name)
		}
	}
	if min, err = p.Int("MinCount", 1); err != nil {
		return 0, 0, err
	}
	if max, err = p.Int("MaxCount", 1); err != nil {
		return 0, 0, err
	}
	switch {
	case min < 1:
		return 0, 0, ec2err.BadValue("MinCount", strconv.Itoa(min), "It must be at least 1.")
	case max < min:
		return 0, 0, ec2err.BadValue("MaxCount", strconv.Itoa(max), "It must be at least MinCount ("+strconv.Itoa(min)+").")
	case min > maxLaunch:
		return 0, 0, ec2err.New(ec2err.InstanceLimitExceeded, "You have requested more instances (%d) than one request can launch (%d).", min, maxLaunch)
	}
	return min, minInt(max, maxLaunch), nil
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// userData decodes a base64 user data parameter and enforces EC2's limit.
func userData(p *query.Params, name string) ([]byte, error) {
	data, err := p.Base64(name)
	if err != nil {
		return nil, err
	}
	if len(data) > maxUserData {
		return nil, ec2err.BadValue(name, "(redacted)", "User data is limited to 16384 bytes; this is "+strconv.Itoa(len(data))+".")
	}
	return data, nil
}

func shutdownBehavior(param, v string) (string, error) {
	switch v {
	case "":
		return "stop", nil
	case "stop", "terminate":
		return v, nil
	}
	return "", ec2err.BadValue(param, v, "It must be stop or terminate.")
}

// blockDeviceMappings decodes BlockDeviceMapping.N.
func blockDeviceMappings(p *query.Params) ([]blockDeviceRequest, error) {
	var out []blockDeviceRequest
	for _, m := range p.Structs("BlockDeviceMapping") {
		dev, err := m.Required("DeviceName")
		if err != nil {
			return nil, err
		}
		bd := blockDeviceRequest{DeviceName: dev, VolumeType: m.String("Ebs.VolumeType"), SnapshotID: m.String("Ebs.SnapshotId"), NoDevice: m.Has("NoDevice")}
		if bd.VolumeSize, err = m.Int("Ebs.VolumeSize", 0); err != nil {
			return nil, err
		}
		if bd.Iops, err = m.Int("Ebs.Iops", 0); err != nil {
			return nil, err
		}
		if m.Has("Ebs.DeleteOnTermination") {
			v, err := m.Bool("Ebs.DeleteOnTermination", true)
			if err != nil {
				return nil, err
			}
			bd.DeleteOnTermination = &v
		}
		if bd.VolumeSize < 0 || bd.Iops < 0 {
			return nil, ec2err.BadValue("BlockDeviceMapping.Ebs", strconv.Itoa(bd.VolumeSize), "Sizes and IOPS must be positive.")
		}
		out = append(out, bd)
	}
	return out, nil
}

// mappingsSayWhat checks that each of a launch's BlockDeviceMapping.N says
// what goes on its device: a volume (Ebs), nothing (NoDevice) or an
// instance store (VirtualName); EC2 asks for the volume when it says none.
func mappingsSayWhat(p *query.Params) error {
	for _, m := range p.Structs("BlockDeviceMapping") {
		if !m.Has("NoDevice") && !m.Has("VirtualName") && len(m.Struct("Ebs").Values()) == 0 {
			return ec2err.Missing("ebs")
		}
	}
	return nil
}

// launchHash fingerprints the parameters that define a launch, for
// ClientToken idempotency: everything except signing, token and DryRun.
func launchHash(p *query.Params) string {
	skip := map[string]bool{"ClientToken": true, "DryRun": true, "Signature": true, "SignatureMethod": true,
		"SignatureVersion": true, "AWSAccessKeyId": true, "Timestamp": true, "Expires": true, "Version": true}
	vals := p.Values()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		if !skip[k] && !strings.HasPrefix(k, "X-Amz-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "=" + strings.Join(vals[k], ",") + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func reservationInstances(tx store.Tx, owner, reservationID string) ([]*store.Instance, error) {
	all, err := store.ListInstances(tx, owner)
	var out []*store.Instance
	for _, inst := range all {
		if inst.ReservationID == reservationID {
			out = append(out, inst)
		}
	}
	return out, err
}

func (s *Service) runInstances(r *Request) (any, error) {
	lr, err := s.parseTemplateLaunch(r) // launch_templates.go: parseLaunch with a template's data
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner, now, hash := r.User.Name, s.now(), launchHash(r.Params)
	tokenHash := ""
	if lr.token != "" {
		tokenHash = hash
	}
	// Ids are drawn outside the transaction, which may run more than once.
	resID := store.NewID("r")
	ids := make([]string, lr.max)
	for i := range ids {
		ids[i] = store.NewID("i")
	}
	// A ClientToken names the reservation's first instance, so a retry
	// finds it with one read and a launch writes no separate token record.
	if lr.token != "" {
		ids[0] = store.DerivedID("i", owner, lr.token)
	}
	each, err := launchDelta(lr)
	if err != nil {
		return nil, err
	}
	var (
		replay   []*store.Instance
		created  []*store.Instance
		contexts []*backend.LaunchContext
		count    = lr.max
	)
	// A backend that keeps its machines in this store launches inside the
	// transaction: records and machines commit together, once.
	inTx := s.Backend.TxLauncher
	reads := launchReads(r.User, lr) // named here, outside the store's one committer
	launchTx := func(tx store.Tx, wire *wiring) error {
		replay, created, contexts = nil, nil, nil
		store.Prefetch(tx, reads...)
		if lr.token != "" {
			first, err := tokenInstance(tx, owner, ids[0])
			switch {
			case err != nil:
				return err
			case first == nil:
				if launchTokenExpired(tx, owner, lr.token) {
					// Its instance was purged (purge.go): a new launch,
					// with ids the backend has never seen.
					if err := tx.Delete(store.BucketInstances, store.OwnedKey(owner, ids[0])); err != nil {
						return err
					}
					ids[0] = store.NewID("i")
				}
			case first.ClientToken != lr.token:
				// Another launch holds the id (a hash collision): this one
				// gets an id of its own and cannot be replayed.
				ids[0] = store.NewID("i")
			case first.LaunchHash != hash:
				return ec2err.New(ec2err.IdempotentParameterMismatch, "The client token '%s' was already used with different parameters.", lr.token)
			default:
				replay, err = reservationInstances(tx, owner, first.ReservationID)
				return err
			}
		}
		l, use, err := s.limits(tx, r.User)
		if err != nil {
			return err
		}
		fit, err := quota.Fit(l, use, each, lr.min, count)
		if err != nil {
			return err
		}
		publicKey, err := s.launchKey(tx, owner, lr.keyName)
		if err != nil {
			return err
		}
		place, err := s.launchNetwork(tx, owner, lr)
		if err != nil {
			return err
		}
		subnet := place.subnet
		for i, id := range ids[:fit] {
			// Only the first instance's hash is read (a retry finds it by
			// its id); the others' would be 80 bytes each for nothing.
			launchHash := tokenHash
			if i > 0 {
				launchHash = ""
			}
			inst := &store.Instance{
				ID: id, Owner: owner, ReservationID: resID, ImageID: lr.image.ID, InstanceType: lr.itype.Name, VCPUs: lr.itype.VCPUs,
				KeyName: lr.keyName, LaunchIndex: i, Zone: subnet.Zone, ClientToken: lr.token, LaunchHash: launchHash,
				LaunchTime: now, Groups: place.groups, VpcID: subnet.VpcID, SubnetID: subnet.ID, InterfaceDescription: lr.net.description, KeepInterface: lr.net.keep,
				UserData: lr.userData, ShutdownBehavior: lr.shutdown, DisableAPITermination: lr.disableTermination,
				RootDeviceName: lr.image.RootDeviceName, Options: lr.options,
				BaseImageID: lr.baseImageID(), PublicIPOnLaunch: s.publicIP(place, lr),
			}
			vols, err := s.launchVolumes(tx, inst, lr.image.Backend(), lr.mappings)
			if err != nil {
				return err
			}
			if err := s.tagNewInstance(tx, inst, lr); err != nil {
				return err
			}
			lc := &backend.LaunchContext{
				InstanceID: id, Owner: owner, InstanceType: lr.itype.Backend(), Image: lr.image.Backend(),
				Zone: subnet.Zone, KeyName: lr.keyName, PublicKey: publicKey, UserData: lr.userData,
				Groups: place.sgs, Tags: tagMap(lr.tags), Volumes: vols, ShutdownBehavior: lr.shutdown,
				Subnet: backendSubnet(subnet), PrivateIP: place.privateIP(lr), AssociatePublicIP: lr.net.publicIP,
			}
			if place.iface != nil {
				lc.Interface = place.iface.ID
				if err := attachPrimary(tx, place.iface, id, now); err != nil {
					return err
				}
				inst.Interfaces = []*store.NetworkInterface{place.iface} // for the response
			}
			// The intent is a pending instance; a TxLauncher's machine is
			// the backend's own word.
			m := backend.Machine{State: backend.Pending, Changed: now}
			inst.Replica = s.Replica
			if inTx != nil {
				if m, err = inTx.RunInTx(tx, lc); errors.Is(err, backend.ErrCapacity) && i >= lr.min {
					return launchFewer(i)
				}
				if err != nil {
					return launchError(err, lr.min)
				}
				inst.BackendID = m.ID
			}
			if _, err := s.transition(tx, inst, move{machine: m, wire: wire}); err != nil {
				return err
			}
			if err := s.requirePublicIP(inst, lr); err != nil {
				return err
			}
			created = append(created, inst)
			contexts = append(contexts, lc)
		}
		return nil
	}
	// EC2 launches as many as it can, at least MinCount: when the backend
	// runs out of capacity part-way, the transaction is rolled back and
	// redone for the instances it could take.
	for {
		err = s.updateWired(r.Context, launchTx)
		var fewer launchFewer
		if !errors.As(err, &fewer) {
			break
		}
		count = int(fewer)
	}
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return s.replayReservation(r, replay)
	}
	if inTx == nil {
		if err := s.launch(r, lr, created, contexts); err != nil {
			return nil, err
		}
	}
	return s.reservationResponse(r, created, lr.tags)
}

// tokenInstance is the instance a ClientToken names (id, derived from
// it), nil when it has none yet. The key is created first, a placeholder
// the launch then writes over (store.Create): on PostgreSQL the read of
// the absent key would lock the index page where concurrent launches
// insert their instances, and they would abort each other; a retry of the
// token running at once on another replica is a serialization failure,
// and runs again to find this launch's instance.
func tokenInstance(tx store.Tx, owner, id string) (*store.Instance, error) {
	created, err := store.Create(tx, store.BucketInstances, store.OwnedKey(owner, id), []byte("{}"))
	if err != nil || created {
		return nil, err
	}
	return store.GetInstance(tx, owner, id)
}

// launchReads are keys a launch reads whose names are known before it
// starts (the ClientToken's tombstone, the quotas and counters, the
// default VPC, its default group and the zone's default subnet): a
// PostgreSQL transaction reads them in one round trip. What a launch
// makes of new ids (instances, volumes, the sim's machines, open usage
// intervals) it writes without reading, and the ClientToken's instance
// and the addresses it claims it creates (store.Create).
func launchReads(u *store.User, lr *launchRequest) []store.Ref {
	refs := append(store.QuotaRefs(u), store.CountersRef(u.Name),
		store.Ref{Bucket: store.BucketVPCs, Key: store.OwnedKey(u.Name, store.DefaultVPCID(u.Name))})
	refs = append(refs, store.DefaultGroupRefs(u.Name, defaultGroupName)...)
	if lr.net.subnetID == "" {
		refs = append(refs, store.Ref{Bucket: store.BucketSubnets, Key: store.OwnedKey(u.Name, store.DefaultSubnetID(u.Name, lr.zone))})
	}
	if lr.token != "" {
		refs = append(refs, store.Ref{Bucket: store.BucketIdempotency, Key: idempotencyKey(u.Name, "RunInstances", lr.token)})
	}
	return refs
}

// launchDelta is what each instance of the launch adds to the student's
// usage: the instance, its vCPUs, and its volumes (sizes a snapshot
// decides are known only once the volume is made, and count as 0 here).
func launchDelta(lr *launchRequest) (quota.Delta, error) {
	image := lr.image.Backend()
	reqs, err := launchMappings(cmp.Or(image.RootDeviceName, lr.image.RootDeviceName, "/dev/sda1"), image, lr.mappings)
	d := quota.Delta{Instances: 1, VCPUs: lr.itype.VCPUs, InstanceType: lr.itype.Name, ImageID: lr.baseImageID(), Volumes: len(reqs)}
	if lr.net.keep {
		// The interface becomes the student's when the instance goes; it
		// is counted from then on, and must fit now.
		d.NetworkInterfaces = 1
	}
	for _, m := range reqs {
		d.VolumeGiB += m.VolumeSize
	}
	return d, err
}

// launchFewer rolls a launch transaction back to redo it with this many
// instances.
type launchFewer int

func (n launchFewer) Error() string {
	return fmt.Sprintf("backend capacity: launch %d instances", int(n))
}

func tagMap(tags []store.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// tagNewInstance applies the launch's tags to the instance, its volumes
// and its primary interface.
func (s *Service) tagNewInstance(tx store.Tx, inst *store.Instance, lr *launchRequest) error {
	if err := putTags(tx, inst.Owner, inst.ID, lr.tags); err != nil {
		return err
	}
	if err := putTags(tx, inst.Owner, interfaceOf(inst).id, lr.interfaceTags); err != nil {
		return err
	}
	for _, bd := range inst.BlockDevices {
		if err := putTags(tx, inst.Owner, bd.VolumeID, lr.volumeTags); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) reservationResponse(r *Request, insts []*store.Instance, tags []store.Tag) (any, error) {
	byID := make(map[string][]store.Tag, len(insts))
	for _, inst := range insts {
		byID[inst.ID] = tags
	}
	res := s.reservations(r, insts, byID)
	return &runInstancesResponse{reservationXML: res[0]}, nil
}

// replayReservation answers a repeated ClientToken with the original
// reservation as it is now.
func (s *Service) replayReservation(r *Request, insts []*store.Instance) (any, error) {
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	current, tags, err := s.loadInstancesAnyState(r, ids)
	if err != nil {
		return nil, err
	}
	sort.Slice(current, func(i, j int) bool { return current[i].LaunchIndex < current[j].LaunchIndex })
	res := s.reservations(r, current, tags)
	return &runInstancesResponse{reservationXML: res[0]}, nil
}

// launch runs the recorded instances on the backend (in parallel, outside
// any transaction) and records the outcome in one transaction. Instances
// the backend refused are marked terminated; fewer than MinCount launched
// fails the request and terminates the rest.
func (s *Service) launch(r *Request, lr *launchRequest, insts []*store.Instance, contexts []*backend.LaunchContext) error {
	machines := make([]backend.Machine, len(insts))
	errs := make([]error, len(insts))
	sem := make(chan struct{}, launchParallel)
	var wg sync.WaitGroup
	for i := range insts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			machines[i], errs[i] = s.Backend.Run(r.Context, contexts[i])
		}()
	}
	wg.Wait()
	launched := 0
	var firstErr error
	for _, err := range errs {
		if err == nil {
			launched++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	failed := launched < lr.min
	if failed {
		var unused []string
		for i, err := range errs {
			if err == nil {
				unused = append(unused, machines[i].ID)
				errs[i] = firstErr
			}
		}
		s.terminateMachines(r.Context, unused)
	}
	for i, inst := range insts {
		if errs[i] != nil {
			s.requestLog(r).Error().Err(errs[i]).Str("instance", inst.ID).Msg("backend refused launch")
			machines[i] = failedLaunch(errs[i])
		}
		inst.BackendID = machines[i].ID
		s.applyMachine(inst, machines[i])
	}
	if err := s.recordLaunch(r.Context, insts, machines); err != nil {
		return err
	}
	if failed {
		return launchError(firstErr, lr.min)
	}
	return nil
}

// failedLaunch is the machine of a launch that did not happen: terminated
// with no time of its own, so its usage ends where it began (see
// moveLedger).
func failedLaunch(err error) backend.Machine {
	m := backend.Machine{State: backend.Terminated, Reason: "Server.InternalError"}
	if errors.Is(err, backend.ErrCapacity) {
		m.Reason = "Server.InsufficientInstanceCapacity"
	}
	return m
}

func launchError(err error, min int) error {
	return backendError(err, refusals{
		capacity: ec2err.New(ec2err.InsufficientInstanceCapacity, "There is not enough capacity to launch %d instance(s). Try fewer, another instance type or later.", min),
	})
}

// recordLaunch writes the backend's answers (machines[i] for insts[i])
// over the intent records, keeping fields other families may have changed
// meanwhile. An instance the student terminated while its launch was in
// flight stays terminated, and its new machine is terminated too.
func (s *Service) recordLaunch(ctx context.Context, insts []*store.Instance, machines []backend.Machine) error {
	var orphans []string
	err := s.updateWired(ctx, func(tx store.Tx, w *wiring) error {
		orphans = nil
		for i, inst := range insts {
			if err := store.DeleteLaunchIntent(tx, inst.Owner, inst.ID); err != nil {
				return err
			}
			cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
			if err != nil {
				return err
			}
			if cur == nil {
				continue
			}
			cur.BackendID, cur.Replica = machines[i].ID, ""
			if cur.State != string(backend.Terminated) {
				if _, err := s.transition(tx, cur, move{machine: machines[i], wire: w}); err != nil {
					return err
				}
				continue
			}
			if cur.BackendID != "" {
				orphans = append(orphans, cur.BackendID)
			}
			cur.PrivateIP, cur.PrivateDNSName = machines[i].PrivateIP, machines[i].PrivateDNSName
			if err := store.PutInstance(tx, cur); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.terminateMachines(ctx, orphans)
	return nil
}

// terminateMachines cleans up machines nobody will use; a failure is only
// logged (the instance records already say terminated).
func (s *Service) terminateMachines(ctx context.Context, ids []string) {
	for _, id := range ids {
		if _, err := s.Backend.Terminate(context.WithoutCancel(ctx), id); err != nil {
			s.Log.Error().Err(err).Str("machine", id).Msg("terminating an unused machine")
		}
	}
}

// RecoverLaunches finishes what a crash interrupted: instances recorded
// (intent) but never given a backend machine by a replica that is gone
// (orphaned). When the backend can find the machine a Run created
// (backend.LaunchFinder) the launch is completed; otherwise it is rolled
// back, marked terminated with Server.InternalError. The leader calls it
// (on bbolt before serving). It reads the index of launch intents, not
// every instance; an entry whose instance no longer waits (terminated by
// its student meanwhile) is dropped.
func (s *Service) RecoverLaunches(ctx context.Context, orphaned Orphaned) error {
	var stranded, done []*store.Instance
	err := s.Store.View(func(tx store.Tx) error {
		stranded, done = nil, nil
		return store.ScanLaunchIntents(tx, func(owner, id string) error {
			inst, err := store.GetInstance(tx, owner, id)
			switch {
			case err != nil:
				return err
			case inst == nil || !store.IsLaunchIntent(inst):
				done = append(done, &store.Instance{Owner: owner, ID: id})
			case orphaned(inst.Replica):
				stranded = append(stranded, inst)
			}
			return nil
		})
	})
	if err == nil && len(done) > 0 {
		err = s.Store.Update(func(tx store.Tx) error {
			for _, inst := range done {
				if err := store.DeleteLaunchIntent(tx, inst.Owner, inst.ID); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil || len(stranded) == 0 {
		return err
	}
	finder := s.Backend.Finder
	machines := make([]backend.Machine, len(stranded))
	for i, inst := range stranded {
		machines[i] = failedLaunch(errors.New("launch interrupted by a restart"))
		if finder == nil {
			continue
		}
		m, found, err := finder.FindLaunch(ctx, inst.ID)
		if err != nil {
			return err
		}
		if found {
			machines[i] = m
		}
	}
	s.Log.Warn().Int("instances", len(stranded)).Msg("recovered launches interrupted by a crash")
	return s.recordLaunch(ctx, stranded, machines)
}

// RunInstances gathers what a launch needs from the other
// families through these functions, all called inside the launch's one
// store transaction so that checks and records commit together.

// blockDeviceRequest is one BlockDeviceMapping.N of RunInstances.
type blockDeviceRequest struct {
	DeviceName          string
	VolumeSize          int // GiB; 0 = the image's (root) or required (others)
	VolumeType          string
	SnapshotID          string
	SnapshotOwner       string // "" = the launching student; else the owner of the image it comes from
	Iops                int
	DeleteOnTermination *bool // nil = the default (true for root)
	NoDevice            bool
}

// launchKey returns the OpenSSH public key of the user's keypair keyName
// ("" when keyName is ""), or InvalidKeyPair.NotFound.
func (s *Service) launchKey(tx store.Tx, owner, keyName string) (publicKey string, err error) {
	if keyName == "" {
		return "", nil
	}
	k, err := store.KeyPairByName(tx, owner, keyName)
	if err != nil {
		return "", err
	}
	if k == nil {
		return "", ec2err.New(ec2err.InvalidKeyPairNotFound, "The key pair '%s' does not exist", keyName)
	}
	return k.PublicKey, nil
}

// launchGroups resolves SecurityGroup.N names and SecurityGroupId.N ids to
// the user's groups (the user's "default" group when both are empty,
// creating it on first use), or InvalidGroup.NotFound; each must be in
// subnet sn's VPC. A group named twice is listed once.
func (s *Service) launchGroups(tx store.Tx, owner string, sn *store.Subnet, names, ids []string) ([]store.GroupRef, []backend.SecurityGroup, error) {
	def, err := s.ensureDefaultGroup(tx, owner)
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 && len(ids) == 0 {
		names = []string{defaultGroupName}
	}
	var refs []store.GroupRef
	var groups []backend.SecurityGroup
	add := func(id, name string) error {
		g := def // most launches name no group, or the default one
		if id != def.ID && name != def.Name {
			var err error
			if g, err = findGroup(tx, owner, id, name); err != nil {
				return err
			}
		}
		if slices.ContainsFunc(refs, func(ref store.GroupRef) bool { return ref.ID == g.ID }) {
			return nil
		}
		if err := groupInVPC(g, sn); err != nil {
			return err
		}
		refs = append(refs, store.GroupRef{ID: g.ID, Name: g.Name})
		groups = append(groups, toBackendGroup(g))
		return nil
	}
	for _, id := range ids {
		if err := add(id, ""); err != nil {
			return nil, nil, err
		}
	}
	for _, name := range names {
		if err := add("", name); err != nil {
			return nil, nil, err
		}
	}
	return refs, groups, nil
}

// launchVolumes creates the volume records of a new instance (its root
// volume from the image's size unless the image is instance-store, and the
// requested mappings), attaches them
// in inst.BlockDevices, and returns them for the launch context. All are
// DeleteOnTermination unless the mapping says otherwise, as on EC2.
func (s *Service) launchVolumes(tx store.Tx, inst *store.Instance, image backend.Image, mappings []blockDeviceRequest) ([]backend.Volume, error) {
	now := s.now()
	root := cmp.Or(image.RootDeviceName, inst.RootDeviceName, "/dev/sda1")
	inst.RootDeviceName = root
	reqs, err := launchMappings(root, image, mappings)
	if err != nil {
		return nil, err
	}
	var out []backend.Volume
	for _, m := range reqs {
		v, err := s.launchVolume(tx, inst, m, now)
		if err != nil {
			return nil, err
		}
		out = append(out, backend.Volume{VolumeID: v.ID, Device: m.DeviceName, SizeGiB: v.SizeGiB, SnapshotID: v.SnapshotID, Root: m.DeviceName == root,
			DeleteOnTermination: v.Attachment.DeleteOnTermination})
	}
	return out, nil
}

package actions

import (
	"regexp"
	"strings"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Attaching volumes to instances: AttachVolume and DetachVolume, and the
// device names EC2 accepts.

// deviceName is what EC2 accepts as a block device name.
var deviceName = regexp.MustCompile(`^(/dev/)?(sd|xvd|hd)[a-z]{1,2}[0-9]{0,2}$`)

func checkDevice(param, device string) error {
	if !deviceName.MatchString(device) {
		return ec2err.BadValue(param, device, "It is not a valid EBS device name; use e.g. /dev/sdf or /dev/xvdf.")
	}
	return nil
}

func blockDeviceOf(volumeID string, a *store.VolumeAttachment) store.BlockDevice {
	return store.BlockDevice{DeviceName: a.Device, VolumeID: volumeID, Status: a.Status, AttachTime: a.AttachTime, DeleteOnTermination: a.DeleteOnTermination}
}

type volumeAttachmentResponse struct {
	Meta
	volumeAttachmentItem
}

func (s *Service) attachVolume(r *Request) (any, error) {
	volumeID, instanceID, device, err := attachParams(r.Params)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	inst, err := s.currentInstance(r, instanceID)
	if err != nil {
		return nil, err
	}
	err = s.intendAttachment(r, volumeID, inst,
		func(v *store.Volume, inst *store.Instance) error { return checkAttach(v, inst, device) },
		func(v *store.Volume) {
			v.Attachment = &store.VolumeAttachment{InstanceID: instanceID, Device: device, Status: store.AttachAttaching, AttachTime: s.now(), Until: unknownEnd}
		})
	if err != nil {
		return nil, err
	}
	end, berr := vb.AttachVolume(r.Context, volumeID, inst.BackendID, device)
	v, err := s.confirm(r, volumeID, end, berr,
		func(v *store.Volume, end time.Time) { v.Attachment.Until = end },
		func(v *store.Volume) { v.Attachment = nil })
	if err != nil {
		return nil, err
	}
	return &volumeAttachmentResponse{volumeAttachmentItem: attachmentItem(v.ID, v.Attachment)}, nil
}

// intendAttachment records the intent of an attach or detach: in one
// transaction, check allows it against the volume and inst as they are
// then, and (unless it is a dry run) intend sets it on the volume.
func (s *Service) intendAttachment(r *Request, volumeID string, inst *store.Instance, check func(*store.Volume, *store.Instance) error, intend func(*store.Volume)) error {
	_, err := s.updateVolume(r, volumeID, func(tx store.Tx, v *store.Volume) error {
		inst, err := s.reread(tx, inst)
		if err != nil {
			return err
		}
		if err := check(v, inst); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		intend(v)
		return nil
	})
	return err
}

func attachParams(p *query.Params) (volumeID, instanceID, device string, err error) {
	if volumeID, err = p.Required("VolumeId"); err != nil {
		return
	}
	if instanceID, err = p.Required("InstanceId"); err != nil {
		return
	}
	if device, err = p.Required("Device"); err != nil {
		return
	}
	if err = checkIDs([]string{volumeID}, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return
	}
	if err = checkIDs([]string{instanceID}, "i", ec2err.InvalidInstanceIDMalformed); err != nil {
		return
	}
	err = checkDevice("Device", device)
	return
}

// checkAttach applies EC2's rules for attaching v to inst at device.
func checkAttach(v *store.Volume, inst *store.Instance, device string) error {
	switch {
	case v.Attachment != nil && v.MultiAttach:
		return ec2err.New(ec2err.UnsupportedOperation, "Volume %s is attached to %s: this endpoint attaches a Multi-Attach volume to one instance at a time.", v.ID, v.Attachment.InstanceID)
	case v.Attachment != nil:
		return ec2err.New(ec2err.VolumeInUse, "Volume %s is already attached to %s.", v.ID, v.Attachment.InstanceID)
	case v.State != store.VolumeAvailable:
		return ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; it can be attached once it is 'available'.", v.ID, v.State)
	case inst.State != string(backend.Running) && inst.State != string(backend.Stopped):
		return ec2err.New(ec2err.IncorrectState, "Instance '%s' is not 'running' or 'stopped' (it is '%s').", inst.ID, inst.State)
	case v.Zone != inst.Zone:
		return ec2err.New(ec2err.InvalidVolumeZoneMismatch, "The volume '%s' is not in the same availability zone as instance '%s' (%s vs %s).", v.ID, inst.ID, v.Zone, inst.Zone)
	}
	// Volumes whose detachment has finished have left BlockDevices.
	for _, bd := range inst.BlockDevices {
		if strings.TrimPrefix(bd.DeviceName, "/dev/") == strings.TrimPrefix(device, "/dev/") {
			return ec2err.New(ec2err.InvalidParameterValue, "Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
		}
	}
	return nil
}

func (s *Service) detachVolume(r *Request) (any, error) {
	volumeID, err := requiredID(r.Params, "VolumeId", "vol", ec2err.InvalidVolumeIDMalformed)
	if err != nil {
		return nil, err
	}
	force, err := r.Params.Bool("Force", false)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	inst, err := s.attachedInstance(r, volumeID)
	if err != nil {
		return nil, err
	}
	err = s.intendAttachment(r, volumeID, inst,
		func(v *store.Volume, inst *store.Instance) error { return checkDetach(r.Params, v, inst) },
		func(v *store.Volume) { v.Attachment.Status, v.Attachment.Until = store.AttachDetaching, unknownEnd })
	if err != nil {
		return nil, err
	}
	end, berr := vb.DetachVolume(r.Context, volumeID, inst.BackendID, force)
	var resp volumeAttachmentItem
	_, err = s.confirm(r, volumeID, end, berr,
		func(v *store.Volume, end time.Time) {
			v.Attachment.Until = end
			resp = attachmentItem(v.ID, v.Attachment)
		},
		func(v *store.Volume) { v.Attachment.Status = store.AttachAttached })
	if err != nil {
		return nil, err
	}
	return &volumeAttachmentResponse{volumeAttachmentItem: resp}, nil
}

// attachedInstance finds the instance a volume is attached to now (see
// currentInstance); a volume not attached is IncorrectState.
func (s *Service) attachedInstance(r *Request, volumeID string) (*store.Instance, error) {
	var on string
	err := s.Store.View(func(tx store.Tx) error {
		v, err := store.GetVolume(tx, r.User.Name, volumeID)
		if err != nil {
			return err
		}
		if v == nil || v.At(s.now()).State == store.VolumeDeleted {
			return volumeNotFound(volumeID)
		}
		cur := v.At(s.now())
		if cur.Attachment == nil || cur.Attachment.Status == store.AttachDetaching {
			return ec2err.New(ec2err.IncorrectState, "Volume '%s' is in the '%s' state; it is not attached.", volumeID, cur.Status())
		}
		on = cur.Attachment.InstanceID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.currentInstance(r, on)
}

// checkDetach applies EC2's rules: InstanceId and Device, when sent, must
// name the attachment; a root volume detaches only from a stopped instance.
func checkDetach(p *query.Params, v *store.Volume, inst *store.Instance) error {
	a := v.Attachment
	if a == nil || a.Status == store.AttachDetaching || a.InstanceID != inst.ID {
		return ec2err.New(ec2err.IncorrectState, "Volume '%s' is in the '%s' state; it is not attached.", v.ID, v.Status())
	}
	if id := p.String("InstanceId"); id != "" && id != a.InstanceID {
		return ec2err.New(ec2err.InvalidAttachmentNotFound, "Volume '%s' is not attached to instance '%s'.", v.ID, id)
	}
	if dev := p.String("Device"); dev != "" && strings.TrimPrefix(dev, "/dev/") != strings.TrimPrefix(a.Device, "/dev/") {
		return ec2err.New(ec2err.InvalidAttachmentNotFound, "Volume '%s' is not attached at device '%s' (it is at %s).", v.ID, dev, a.Device)
	}
	if a.Device == inst.RootDeviceName && inst.State != string(backend.Stopped) {
		return ec2err.New(ec2err.OperationNotPermitted, "Volume '%s' is the root device of instance '%s'; stop the instance before detaching it.", v.ID, inst.ID)
	}
	return nil
}

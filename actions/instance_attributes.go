package actions

import (
	"encoding/base64"
	"slices"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// DescribeInstanceAttribute and ModifyInstanceAttribute.

type attrValueXML struct {
	Value string `xml:"value,omitempty"`
}

type attrBoolXML struct {
	Value bool `xml:"value"`
}

type blockDevicesXML struct {
	Items []instanceBlockDeviceXML `xml:"item"`
}

type instanceAttributeResponse struct {
	Meta
	BlockDevices          *blockDevicesXML `xml:"blockDeviceMapping"`
	DisableAPITermination *attrBoolXML     `xml:"disableApiTermination"`
	EnaSupport            *attrBoolXML     `xml:"enaSupport"`
	Enclave               *enclaveXML      `xml:"enclaveOptions"`
	EbsOptimized          *attrBoolXML     `xml:"ebsOptimized"`
	InstanceID            string           `xml:"instanceId"`
	ShutdownBehavior      *attrValueXML    `xml:"instanceInitiatedShutdownBehavior"`
	InstanceType          *attrValueXML    `xml:"instanceType"`
	Kernel                *attrValueXML    `xml:"kernel"`
	ProductCodes          *struct{}        `xml:"productCodes"`
	Ramdisk               *attrValueXML    `xml:"ramdisk"`
	RootDeviceName        *attrValueXML    `xml:"rootDeviceName"`
	SourceDestCheck       *attrBoolXML     `xml:"sourceDestCheck"`
	SriovNetSupport       *attrValueXML    `xml:"sriovNetSupport"`
	UserData              *attrValueXML    `xml:"userData"`
	DisableAPIStop        *attrBoolXML     `xml:"disableApiStop"`
	Groups                *groupSetXML     `xml:"groupSet"`
}

// instanceAttribute fills the one attribute asked for; false when the name
// is not an attribute EC2 knows (botocore's InstanceAttributeName).
func (s *Service) instanceAttribute(r *Request, inst *store.Instance, name string, out *instanceAttributeResponse) bool {
	o := inst.Options
	switch name {
	case "instanceType":
		out.InstanceType = &attrValueXML{inst.InstanceType}
	case "userData":
		out.UserData = &attrValueXML{}
		if len(inst.UserData) > 0 {
			out.UserData.Value = base64.StdEncoding.EncodeToString(inst.UserData)
		}
	case "disableApiTermination":
		out.DisableAPITermination = &attrBoolXML{inst.DisableAPITermination}
	case "disableApiStop":
		out.DisableAPIStop = &attrBoolXML{o.DisableAPIStop}
	case "instanceInitiatedShutdownBehavior":
		out.ShutdownBehavior = &attrValueXML{inst.ShutdownBehavior}
	case "rootDeviceName":
		out.RootDeviceName = &attrValueXML{inst.RootDeviceName}
	case "blockDeviceMapping":
		out.BlockDevices = &blockDevicesXML{Items: s.render(r, inst, nil).BlockDevices}
	case "groupSet":
		out.Groups = &groupSetXML{Items: groupItems(inst.Groups, false)}
	case "kernel":
		out.Kernel = &attrValueXML{o.Kernel}
	case "ramdisk":
		out.Ramdisk = &attrValueXML{o.Ramdisk}
	case "productCodes":
		out.ProductCodes = &struct{}{}
	case "ebsOptimized":
		out.EbsOptimized = &attrBoolXML{o.EbsOptimized}
	case "sourceDestCheck":
		out.SourceDestCheck = &attrBoolXML{!o.NoSourceDestCheck}
	case "sriovNetSupport":
		out.SriovNetSupport = &attrValueXML{} // no Intel 82599 VF networking here
	case "enaSupport":
		out.EnaSupport = &attrBoolXML{true} // every image here is HVM with ENA
	case "enclaveOptions":
		out.Enclave = &enclaveXML{}
	default:
		return false
	}
	return true
}

func (s *Service) describeInstanceAttribute(r *Request) (any, error) {
	name, err := r.Params.Required("Attribute")
	if err != nil {
		return nil, err
	}
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	out := &instanceAttributeResponse{InstanceID: inst.ID}
	if !s.instanceAttribute(r, inst, name, out) {
		return nil, unknownAttribute(name)
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	return out, nil
}

// unknownAttribute is EC2's answer, word for word, to a name that is not
// an instance attribute (names are case-sensitive: instanceType, kernel, …).
func unknownAttribute(name string) error {
	return ec2err.BadValue("attribute", name, "Unknown attribute.")
}

// attribute is one attribute ModifyInstanceAttribute changes: the
// parameter that carries it (PARAM.Value=V; GroupId.N and
// BlockDeviceMapping.N for the lists), whether the instance must be
// stopped, and what the cloud must apply ("" when econe-server alone
// enforces it). decode turns the value into the change.
type attribute struct {
	param    string
	list     bool // PARAM.N, read from the whole request
	stopped  bool
	enforced string
	decode   func(s *Service, v *query.Params) (func(tx store.Tx, inst *store.Instance) error, error)
}

// modifiable are the attributes ModifyInstanceAttribute changes, each
// settable as Attribute=NAME&Value=V or as PARAM.Value=V.
var modifiable = map[string]attribute{
	"instanceType": {param: "InstanceType", stopped: true, decode: func(s *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
		t, ok := s.catalog().InstanceType(v.String("Value"))
		if !ok {
			return nil, ec2err.New(ec2err.InvalidInstanceAttributeValue, "The instanceType '%s' is invalid. DescribeInstanceTypes lists the types this endpoint offers.", v.String("Value"))
		}
		return set(func(inst *store.Instance) { inst.InstanceType = t.Name }), nil
	}},
	"userData": {param: "UserData", stopped: true, decode: func(_ *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
		data, err := userData(v, "Value")
		return set(func(inst *store.Instance) { inst.UserData = data }), err
	}},
	"disableApiTermination": {param: "DisableApiTermination", decode: boolAttribute(func(inst *store.Instance, b bool) { inst.DisableAPITermination = b })},
	"disableApiStop":        {param: "DisableApiStop", decode: boolAttribute(func(inst *store.Instance, b bool) { inst.Options.DisableAPIStop = b })},
	"instanceInitiatedShutdownBehavior": {param: "InstanceInitiatedShutdownBehavior", decode: func(_ *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
		behavior, err := shutdownBehavior("Value", v.String("Value"))
		return set(func(inst *store.Instance) { inst.ShutdownBehavior = behavior }), err
	}},
	"sourceDestCheck":    {param: "SourceDestCheck", enforced: "source/destination check", decode: boolAttribute(func(inst *store.Instance, b bool) { inst.Options.NoSourceDestCheck = !b })},
	"ebsOptimized":       {param: "EbsOptimized", stopped: true, enforced: "EBS optimization", decode: boolAttribute(func(inst *store.Instance, b bool) { inst.Options.EbsOptimized = b })},
	"kernel":             {param: "Kernel", stopped: true, enforced: "kernel", decode: stringAttribute(func(inst *store.Instance, v string) { inst.Options.Kernel = v })},
	"ramdisk":            {param: "Ramdisk", stopped: true, enforced: "RAM disk", decode: stringAttribute(func(inst *store.Instance, v string) { inst.Options.Ramdisk = v })},
	"groupSet":           {param: "GroupId", list: true, enforced: "security groups", decode: groupsChange},
	"blockDeviceMapping": {param: "BlockDeviceMapping", list: true, decode: deleteOnTermination},
}

// set is a change that cannot fail once decoded.
func set(f func(inst *store.Instance)) func(store.Tx, *store.Instance) error {
	return func(_ store.Tx, inst *store.Instance) error { f(inst); return nil }
}

func boolAttribute(f func(inst *store.Instance, b bool)) func(*Service, *query.Params) (func(store.Tx, *store.Instance) error, error) {
	return func(_ *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
		if _, err := v.Required("Value"); err != nil {
			return nil, err
		}
		b, err := v.Bool("Value", false)
		return set(func(inst *store.Instance) { f(inst, b) }), err
	}
}

func stringAttribute(f func(inst *store.Instance, v string)) func(*Service, *query.Params) (func(store.Tx, *store.Instance) error, error) {
	return func(_ *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
		s, err := v.Required("Value")
		return set(func(inst *store.Instance) { f(inst, s) }), err
	}
}

// instanceAttributes are the names DescribeInstanceAttribute knows
// (botocore's InstanceAttributeName), case-sensitive as on EC2.
var instanceAttributes = []string{"instanceType", "kernel", "ramdisk", "userData", "disableApiTermination",
	"instanceInitiatedShutdownBehavior", "rootDeviceName", "blockDeviceMapping", "productCodes", "sourceDestCheck",
	"groupSet", "ebsOptimized", "sriovNetSupport", "enaSupport", "enclaveOptions", "disableApiStop"}

// notModifiedHere are attributes EC2 modifies that mean nothing here.
var notModifiedHere = map[string]string{"enaSupport": "EnaSupport", "sriovNetSupport": "SriovNetSupport"}

// modification decodes which attribute to change and the parameters that
// hold its value: Value for the one-value attributes, GroupId.N and
// BlockDeviceMapping.N for the lists.
func modification(p *query.Params) (string, *query.Params, error) {
	unsupported := func() error {
		return ec2err.New(ec2err.UnsupportedOperation, "EnaSupport and SriovNetSupport cannot be modified here: every instance here has ENA and no SR-IOV networking.")
	}
	if a := p.String("Attribute"); a != "" {
		attr, ok := modifiable[a]
		switch {
		case notModifiedHere[a] != "":
			return "", nil, unsupported()
		case !ok && contains(instanceAttributes, a):
			return "", nil, ec2err.BadValue("attribute", a, "This attribute cannot be modified.")
		case !ok:
			return "", nil, unknownAttribute(a)
		case attr.list && !sent(p, attr.param):
			return a, query.New(map[string][]string{attr.param + ".1": {p.String("Value")}}), nil
		case attr.list:
			return a, p, nil
		}
		return a, query.New(map[string][]string{"Value": {p.String("Value")}}), nil
	}
	for _, param := range notModifiedHere {
		if sent(p, param) {
			return "", nil, unsupported()
		}
	}
	var found []string
	for a, attr := range modifiable {
		if sent(p, attr.param) {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		return "", nil, ec2err.New(ec2err.InvalidParameterCombination, "Give exactly one attribute to modify (for example InstanceType.Value); got %d.", len(found))
	}
	if attr := modifiable[found[0]]; !attr.list {
		return found[0], p.Struct(attr.param), nil
	}
	return found[0], p, nil
}

// sent reports whether the request holds the attribute's parameter:
// NAME.Value, or the list NAME.N.
func sent(p *query.Params, name string) bool {
	return p.Has(name+".Value") || len(p.List(name)) > 0 || len(p.Structs(name)) > 0
}

func (s *Service) modifyInstanceAttribute(r *Request) (any, error) {
	name, value, err := modification(r.Params)
	if err != nil {
		return nil, err
	}
	attr := modifiable[name]
	change, err := attr.decode(s, value)
	if err != nil {
		return nil, err
	}
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	err = s.updateInstance(r, inst, attr.enforced, func(tx store.Tx, inst *store.Instance) error {
		if attr.stopped && inst.State != string(backend.Stopped) {
			return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in the 'stopped' state; stop it before changing its %s.", inst.ID, name)
		}
		return change(tx, inst)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// ---- GroupId.N ----

// groupsChange replaces the instance's security groups with the caller's
// groups named by id (EC2 takes ids only here).
func groupsChange(_ *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
	ids := dedupe(v.List("GroupId"))
	if len(ids) == 0 {
		return nil, ec2err.New(ec2err.MissingParameter, "Give at least one security group id (GroupId.1), even if it is the default group's.")
	}
	if err := checkIDs(ids, "sg", ec2err.InvalidGroupIDMalformed); err != nil {
		return nil, err
	}
	return func(tx store.Tx, inst *store.Instance) error {
		refs := make([]store.GroupRef, 0, len(ids))
		for _, id := range ids {
			g, err := findGroup(tx, inst.Owner, id, "")
			if err != nil {
				return err
			}
			refs = append(refs, store.GroupRef{ID: g.ID, Name: g.Name})
		}
		inst.Groups = refs
		return setPrimaryGroups(tx, inst, refs)
	}, nil
}

// ---- BlockDeviceMapping.N.Ebs.DeleteOnTermination ----

// deleteOnTermination changes DeleteOnTermination of the volumes attached
// at the devices named: the attachment is the one record of it, and
// terminating the instance reads it there.
func deleteOnTermination(_ *Service, v *query.Params) (func(store.Tx, *store.Instance) error, error) {
	type want struct {
		device string
		value  bool
	}
	var wants []want
	for _, m := range v.Structs("BlockDeviceMapping") {
		dev, err := m.Required("DeviceName")
		if err != nil {
			return nil, err
		}
		if !m.Has("Ebs.DeleteOnTermination") {
			return nil, ec2err.New(ec2err.MissingParameter, "BlockDeviceMapping for %s: give Ebs.DeleteOnTermination, the one setting that changes after launch.", dev)
		}
		b, err := m.Bool("Ebs.DeleteOnTermination", true)
		if err != nil {
			return nil, err
		}
		wants = append(wants, want{dev, b})
	}
	if len(wants) == 0 {
		return nil, ec2err.Missing("BlockDeviceMapping.1.DeviceName")
	}
	return func(tx store.Tx, inst *store.Instance) error {
		for _, w := range wants {
			i := slices.IndexFunc(inst.BlockDevices, func(bd store.BlockDevice) bool { return bd.DeviceName == w.device })
			if i < 0 {
				return ec2err.New(ec2err.InvalidInstanceAttributeValue, "No device named %s is attached to %s.", w.device, inst.ID)
			}
			vol, err := store.GetVolume(tx, inst.Owner, inst.BlockDevices[i].VolumeID)
			if err != nil {
				return err
			}
			if vol == nil || vol.Attachment == nil || vol.Attachment.InstanceID != inst.ID {
				return ec2err.New(ec2err.InvalidInstanceAttributeValue, "No device named %s is attached to %s.", w.device, inst.ID)
			}
			vol.Attachment.DeleteOnTermination = w.value
			if err := store.PutVolume(tx, vol); err != nil {
				return err
			}
			inst.BlockDevices[i].DeleteOnTermination = w.value
		}
		return nil
	}, nil
}

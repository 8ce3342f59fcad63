package actions

import (
	"encoding/base64"

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
	EbsOptimized          *attrBoolXML     `xml:"ebsOptimized"`
	InstanceID            string           `xml:"instanceId"`
	ShutdownBehavior      *attrValueXML    `xml:"instanceInitiatedShutdownBehavior"`
	InstanceType          *attrValueXML    `xml:"instanceType"`
	Kernel                *attrValueXML    `xml:"kernel"`
	ProductCodes          *struct{}        `xml:"productCodes"`
	Ramdisk               *attrValueXML    `xml:"ramdisk"`
	RootDeviceName        *attrValueXML    `xml:"rootDeviceName"`
	SourceDestCheck       *attrBoolXML     `xml:"sourceDestCheck"`
	UserData              *attrValueXML    `xml:"userData"`
	Groups                *groupSetXML     `xml:"groupSet"`
}

// instanceAttribute fills the one attribute asked for; false when the name
// is not an attribute EC2 knows.
func (s *Service) instanceAttribute(r *Request, inst *store.Instance, name string, out *instanceAttributeResponse) bool {
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
	case "instanceInitiatedShutdownBehavior":
		out.ShutdownBehavior = &attrValueXML{inst.ShutdownBehavior}
	case "rootDeviceName":
		out.RootDeviceName = &attrValueXML{inst.RootDeviceName}
	case "blockDeviceMapping":
		out.BlockDevices = &blockDevicesXML{Items: s.render(r, inst, nil).BlockDevices}
	case "groupSet":
		out.Groups = &groupSetXML{Items: groupItems(inst.Groups, false)}
	case "kernel":
		out.Kernel = &attrValueXML{}
	case "ramdisk":
		out.Ramdisk = &attrValueXML{}
	case "productCodes":
		out.ProductCodes = &struct{}{}
	case "ebsOptimized":
		out.EbsOptimized = &attrBoolXML{}
	case "sourceDestCheck":
		out.SourceDestCheck = &attrBoolXML{true}
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
		return nil, ec2err.BadValue("Attribute", name, "Valid attributes: instanceType, userData, disableApiTermination, instanceInitiatedShutdownBehavior, rootDeviceName, blockDeviceMapping, groupSet, kernel, ramdisk, productCodes, ebsOptimized, sourceDestCheck.")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	return out, nil
}

// modifiable are the attributes ModifyInstanceAttribute changes, each
// settable as Attribute=NAME&Value=V or as NAME.Value=V.
var modifiable = map[string]string{
	"instanceType":                      "InstanceType",
	"userData":                          "UserData",
	"disableApiTermination":             "DisableApiTermination",
	"instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
}

// modification decodes which attribute to change and its new value.
func modification(p *query.Params) (attr string, value *query.Params, err error) {
	if a := p.String("Attribute"); a != "" {
		if _, ok := modifiable[a]; !ok {
			return "", nil, ec2err.New(ec2err.UnsupportedOperation, "Modifying the attribute '%s' is not supported here; supported: instanceType, userData, disableApiTermination, instanceInitiatedShutdownBehavior.", a)
		}
		return a, query.New(map[string][]string{"Value": {p.String("Value")}}), nil
	}
	var found []string
	for a, param := range modifiable {
		if p.Has(param + ".Value") {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		return "", nil, ec2err.New(ec2err.InvalidParameterCombination, "Give exactly one attribute to modify (for example InstanceType.Value); got %d.", len(found))
	}
	return found[0], p.Struct(modifiable[found[0]]), nil
}

// modify returns the change to apply to an instance record.
func (s *Service) modify(attr string, v *query.Params) (func(inst *store.Instance) error, error) {
	needStopped := func(inst *store.Instance) error {
		if inst.State != string(backend.Stopped) {
			return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in the 'stopped' state; stop it before changing its %s.", inst.ID, attr)
		}
		return nil
	}
	switch attr {
	case "instanceType":
		t, ok := s.catalog().InstanceType(v.String("Value"))
		if !ok {
			return nil, ec2err.New(ec2err.InvalidInstanceAttributeValue, "The instanceType '%s' is invalid. DescribeInstanceTypes lists the types this endpoint offers.", v.String("Value"))
		}
		return func(inst *store.Instance) error {
			if err := needStopped(inst); err != nil {
				return err
			}
			inst.InstanceType = t.Name
			return nil
		}, nil
	case "userData":
		data, err := userData(v, "Value")
		if err != nil {
			return nil, err
		}
		return func(inst *store.Instance) error {
			if err := needStopped(inst); err != nil {
				return err
			}
			inst.UserData = data
			return nil
		}, nil
	case "disableApiTermination":
		b, err := v.Bool("Value", false)
		if err != nil {
			return nil, err
		}
		return func(inst *store.Instance) error { inst.DisableAPITermination = b; return nil }, nil
	default: // instanceInitiatedShutdownBehavior
		behavior, err := shutdownBehavior("Value", v.String("Value"))
		if err != nil {
			return nil, err
		}
		return func(inst *store.Instance) error { inst.ShutdownBehavior = behavior; return nil }, nil
	}
}

func (s *Service) modifyInstanceAttribute(r *Request) (any, error) {
	attr, value, err := modification(r.Params)
	if err != nil {
		return nil, err
	}
	change, err := s.modify(attr, value)
	if err != nil {
		return nil, err
	}
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	if err := change(inst); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	err = s.Store.Update(func(tx store.Tx) error {
		cur, err := s.reread(tx, inst)
		if err != nil {
			return err
		}
		if err := change(cur); err != nil {
			return err
		}
		return store.PutInstance(tx, cur)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

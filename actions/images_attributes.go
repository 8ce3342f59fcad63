package actions

import (
	"slices"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Describe/Modify/ResetImageAttribute on a student's own images. The one
// attribute with an effect beyond the image is launchPermission: sharing
// with a classmate's account id lets that classmate describe and launch
// the image, and nothing else. Public images (Group all) are refused.

// imageAttributeNames are the attributes botocore's model lists, in order.
var imageAttributeNames = []string{"description", "kernel", "ramdisk", "launchPermission", "productCodes", "blockDeviceMapping",
	"sriovNetSupport", "bootMode", "tpmSupport", "uefiData", "lastLaunchedTime", "imdsSupport", "deregistrationProtection"}

// maxLaunchAccounts is how many accounts EC2 lets one image be shared with.
const maxLaunchAccounts = 1000

// permissionXML is botocore's LaunchPermission and its
// CreateVolumePermission (the same members).
type permissionXML struct {
	UserID string `xml:"userId,omitempty"`
	Group  string `xml:"group,omitempty"`
}

// productCodeXML is botocore's ProductCode; student images have none.
type productCodeXML struct {
	ProductCode string `xml:"productCode"`
	Type        string `xml:"type"`
}

// describeImageAttributeResponse is botocore's ImageAttribute: only the
// attribute asked for is present.
type describeImageAttributeResponse struct {
	Meta
	Description              *attrValueXML                  `xml:"description,omitempty"`
	Kernel                   *attrValueXML                  `xml:"kernel,omitempty"`
	Ramdisk                  *attrValueXML                  `xml:"ramdisk,omitempty"`
	SriovNetSupport          *attrValueXML                  `xml:"sriovNetSupport,omitempty"`
	BootMode                 *attrValueXML                  `xml:"bootMode,omitempty"`
	TpmSupport               *attrValueXML                  `xml:"tpmSupport,omitempty"`
	UefiData                 *attrValueXML                  `xml:"uefiData,omitempty"`
	LastLaunchedTime         *attrValueXML                  `xml:"lastLaunchedTime,omitempty"`
	ImdsSupport              *attrValueXML                  `xml:"imdsSupport,omitempty"`
	DeregistrationProtection *attrValueXML                  `xml:"deregistrationProtection,omitempty"`
	ImageID                  string                         `xml:"imageId"`
	LaunchPermissions        *itemList[permissionXML]       `xml:"launchPermission,omitempty"`
	ProductCodes             *itemList[productCodeXML]      `xml:"productCodes,omitempty"`
	BlockDevices             *itemList[imageBlockDeviceXML] `xml:"blockDeviceMapping,omitempty"`
}

// imageAttributeParam reads Attribute and checks it is one of names.
func imageAttributeParam(p *query.Params, names []string) (string, error) {
	attr, err := p.Required("Attribute")
	if err != nil {
		return "", err
	}
	return attr, checkImageAttribute(attr, names)
}

func checkImageAttribute(attr string, names []string) error {
	if !slices.Contains(names, attr) {
		return ec2err.BadValue("Attribute", attr, "Valid attributes: "+strings.Join(names, ", ")+".")
	}
	return nil
}

// readOwnImage is the caller's image id (see ownImage), for a describe.
func (s *Service) readOwnImage(r *Request, id string) (*store.Image, error) {
	var im *store.Image
	err := s.Store.View(func(tx store.Tx) (err error) {
		im, err = s.ownImage(tx, r.User, id)
		return err
	})
	return im, err
}

func (s *Service) describeImageAttribute(r *Request) (any, error) {
	attr, err := imageAttributeParam(r.Params, imageAttributeNames)
	if err != nil {
		return nil, err
	}
	id, err := requiredID(r.Params, "ImageId", "ami", ec2err.InvalidAMIIDMalformed)
	if err != nil {
		return nil, err
	}
	im, err := s.readOwnImage(r, id)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &describeImageAttributeResponse{ImageID: im.ID}
	empty := &attrValueXML{}
	switch attr {
	case "description":
		resp.Description = &attrValueXML{Value: im.Description}
	case "launchPermission":
		perms := make([]permissionXML, len(im.LaunchAccounts))
		for i, a := range im.LaunchAccounts {
			perms[i] = permissionXML{UserID: a}
		}
		resp.LaunchPermissions = itemsOf(perms)
	case "productCodes":
		resp.ProductCodes = itemsOf([]productCodeXML{})
	case "blockDeviceMapping":
		resp.BlockDevices = itemsOf(imageDevicesXML(im.Devices))
	case "kernel":
		resp.Kernel = empty
	case "ramdisk":
		resp.Ramdisk = empty
	case "sriovNetSupport":
		resp.SriovNetSupport = empty
	case "bootMode":
		resp.BootMode = empty
	case "tpmSupport":
		resp.TpmSupport = empty
	case "uefiData":
		resp.UefiData = empty
	case "lastLaunchedTime":
		resp.LastLaunchedTime = empty
	case "imdsSupport":
		resp.ImdsSupport = empty
	case "deregistrationProtection":
		resp.DeregistrationProtection = &attrValueXML{Value: "disabled"}
	}
	return resp, nil
}

// ---- ModifyImageAttribute ----

// permissionChange is a decoded launchPermission modification.
type permissionChange struct {
	add, remove []string // account ids
	private     bool     // Remove Group all: the image is private already
}

// launchPermissionChange decodes both of EC2's forms of a launchPermission
// change: LaunchPermission.Add.N/Remove.N.{UserId,Group}, and Attribute
// launchPermission with OperationType and UserId.N/UserGroup.N.
func launchPermissionChange(p *query.Params, self string) (*permissionChange, error) {
	c := &permissionChange{}
	// read checks one operation's accounts and groups into c: all is the
	// only group, and an image is never public here, so removing it is
	// nothing to do and adding it is refused.
	read := func(into *[]string, adding bool, users, groups []string) error {
		for _, g := range groups {
			if g != "all" {
				return ec2err.New(ec2err.InvalidAMIAttributeItemValue, "Invalid attribute item value \"%s\" for UserGroup item type.", g)
			}
		}
		if adding && len(groups) > 0 {
			return ec2err.New(ec2err.OperationNotPermitted, "Images cannot be made public here (Group all); share the image with a classmate's account id (UserId) instead.")
		}
		c.private = c.private || len(groups) > 0
		for _, u := range users {
			switch {
			case !accountID(u):
				return ec2err.New(ec2err.InvalidAMIAttributeItemValue, "Invalid attribute item value \"%s\" for userId item type: an account id is 12 digits.", u)
			case u == self:
				return ec2err.New(ec2err.InvalidAMIAttributeItemValue, "Invalid attribute item value \"%s\" for userId item type: it is your own account, which owns the image.", u)
			}
			*into = append(*into, u)
		}
		return nil
	}
	for _, op := range []struct {
		name string
		into *[]string
	}{{"Add", &c.add}, {"Remove", &c.remove}} {
		var users, groups []string
		for _, lp := range p.Structs("LaunchPermission." + op.name) {
			if u := lp.String("UserId"); u != "" {
				users = append(users, u)
			}
			if g := lp.String("Group"); g != "" {
				groups = append(groups, g)
			}
			if lp.Has("OrganizationArn") || lp.Has("OrganizationalUnitArn") {
				return nil, ec2err.New(ec2err.UnsupportedOperation, "There are no organizations here; share the image with a classmate's account id (UserId).")
			}
		}
		if err := read(op.into, op.name == "Add", users, groups); err != nil {
			return nil, err
		}
	}
	users, groups := p.List("UserId"), p.List("UserGroup")
	if len(users)+len(groups) > 0 {
		adding, err := operationType(p)
		switch {
		case err != nil:
			return nil, err
		case adding:
			return c, read(&c.add, true, users, groups)
		}
		return c, read(&c.remove, false, users, groups)
	}
	return c, nil
}

// operationType reads the OperationType of a permission change given as
// UserId.N and UserGroup.N: true for add, false for remove.
func operationType(p *query.Params) (adding bool, err error) {
	switch op := p.String("OperationType"); op {
	case "add":
		return true, nil
	case "remove":
		return false, nil
	case "":
		return false, ec2err.Missing("OperationType")
	default:
		return false, ec2err.BadValue("OperationType", op, "It must be add or remove.")
	}
}

// applyPermissions is im's accounts after c: removals, then additions.
func applyPermissions(im *store.Image, c *permissionChange) error {
	accounts := slices.DeleteFunc(slices.Clone(im.LaunchAccounts), func(a string) bool { return slices.Contains(c.remove, a) })
	for _, a := range c.add {
		if !slices.Contains(accounts, a) {
			accounts = append(accounts, a)
		}
	}
	if len(accounts) > maxLaunchAccounts {
		return ec2err.New(ec2err.ResourceLimitExceeded, "An image can be shared with at most %d accounts; %s would be shared with %d.", maxLaunchAccounts, im.ID, len(accounts))
	}
	slices.Sort(accounts)
	im.LaunchAccounts = accounts
	return nil
}

// imageModification is what a ModifyImageAttribute changes: the
// description (when set) or the launch permissions.
type imageModification struct {
	description *string
	permissions *permissionChange
}

func decodeImageModification(p *query.Params, self string) (*imageModification, error) {
	attr := p.String("Attribute")
	if attr != "" {
		if err := checkImageAttribute(attr, imageAttributeNames); err != nil {
			return nil, err
		}
	}
	if p.Has("ProductCode.1") || attr == "productCodes" {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "Product codes belong to AWS Marketplace images; there are none here.")
	}
	if p.Has("ImdsSupport.Value") || attr == "imdsSupport" {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "imdsSupport cannot be changed here.")
	}
	m := &imageModification{}
	switch {
	case p.Has("Description.Value"):
		d := p.String("Description.Value")
		m.description = &d
	case attr == "description":
		d := p.String("Value")
		m.description = &d
	}
	c, err := launchPermissionChange(p, self)
	if err != nil {
		return nil, err
	}
	changesPermissions := len(c.add)+len(c.remove) > 0 || c.private
	switch {
	case m.description != nil && changesPermissions:
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "Change the description and the launch permissions in separate requests.")
	case m.description != nil:
		if len(*m.description) > 255 {
			return nil, ec2err.BadValue("Description", (*m.description)[:32]+"…", "An image description is at most 255 characters.")
		}
		return m, nil
	case changesPermissions:
		m.permissions = c
		return m, nil
	case attr != "" && attr != "description" && attr != "launchPermission":
		return nil, ec2err.BadValue("Attribute", attr, "Only description and launchPermission can be modified.")
	}
	return nil, ec2err.New(ec2err.MissingParameter, "The request must contain a change: LaunchPermission.Add/Remove, UserId with OperationType, or Description.Value.")
}

func (s *Service) modifyImageAttribute(r *Request) (any, error) {
	id, err := requiredID(r.Params, "ImageId", "ami", ec2err.InvalidAMIIDMalformed)
	if err != nil {
		return nil, err
	}
	// The image is looked up first: an unknown one is InvalidAMIID.NotFound
	// whatever the change, as on EC2.
	return s.changeOwnImage(r, id, func(im *store.Image) error {
		m, err := decodeImageModification(r.Params, r.User.AccountID)
		if err != nil {
			return err
		}
		if m.description != nil {
			im.Description = *m.description
			return nil
		}
		return applyPermissions(im, m.permissions)
	})
}

func (s *Service) resetImageAttribute(r *Request) (any, error) {
	if _, err := imageAttributeParam(r.Params, []string{"launchPermission"}); err != nil {
		return nil, err
	}
	id, err := requiredID(r.Params, "ImageId", "ami", ec2err.InvalidAMIIDMalformed)
	if err != nil {
		return nil, err
	}
	return s.changeOwnImage(r, id, func(im *store.Image) error {
		im.LaunchAccounts = nil
		return nil
	})
}

// changeOwnImage applies change to the caller's image id in one transaction.
func (s *Service) changeOwnImage(r *Request, id string, change func(im *store.Image) error) (any, error) {
	err := s.Store.Update(func(tx store.Tx) error {
		im, err := s.ownImage(tx, r.User, id)
		if err != nil {
			return err
		}
		if err := change(im); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		return store.PutImage(tx, im)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// itemList is a list as EC2 writes one (<name><item>…</item></name>);
// itemsOf makes one that is present even when empty.
type itemList[T any] struct {
	Items []T `xml:"item"`
}

func itemsOf[T any](items []T) *itemList[T] { return &itemList[T]{items} }

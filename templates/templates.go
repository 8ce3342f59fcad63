// Package templates holds the admin's instance types and images: built-in
// defaults, extended or overridden by YAML files in conf's templates_dir.
//
// An instance type mirrors OpenNebula's EC2_INSTANCE_TYPE templates: the
// admin fixes the machine's size and backend settings, and RunInstances
// merges it with what the student asks for (image, key, user data, groups)
// into a backend.LaunchContext.
package templates

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
	"go.yaml.in/yaml/v3"
)

// InstanceType is one admin template.
type InstanceType struct {
	Name         string  `yaml:"name"`
	VCPUs        int     `yaml:"vcpus"`
	MemoryMiB    int     `yaml:"memory_mib"`
	Architecture string  `yaml:"architecture"`
	PricePerHour float64 `yaml:"price_per_hour"`
	// StoppedPricePerHour prices a stopped instance (its storage); above 0
	// the usage ledger records stopped intervals too.
	StoppedPricePerHour float64 `yaml:"stopped_price_per_hour"`
	// MinBilledSeconds is the least a start is billed (EC2: 60).
	MinBilledSeconds int               `yaml:"min_billed_seconds"`
	FreeTier         bool              `yaml:"free_tier"`
	Default          bool              `yaml:"default"` // used when RunInstances names no type
	Settings         map[string]string `yaml:"settings"`
}

// Backend is the template as a backend receives it.
func (t InstanceType) Backend() backend.InstanceType {
	return backend.InstanceType{Name: t.Name, VCPUs: t.VCPUs, MemoryMiB: t.MemoryMiB,
		Architecture: t.Architecture, PricePerHour: t.PricePerHour, Settings: t.Settings}
}

// Image is one admin-registered AMI.
type Image struct {
	ID             string `yaml:"id"`
	Name           string `yaml:"name"`
	Description    string `yaml:"description"`
	Architecture   string `yaml:"architecture"`
	Platform       string `yaml:"platform"` // "" (Linux/UNIX) or windows
	RootDeviceName string `yaml:"root_device_name"`
	RootDeviceType string `yaml:"root_device_type"` // ebs | instance-store
	RootSizeGiB    int    `yaml:"root_size_gib"`
	// SnapshotID is the EBS snapshot the image was registered from, if
	// any: DeleteSnapshot refuses to delete it while the image exists.
	SnapshotID   string            `yaml:"snapshot_id"`
	OwnerAlias   string            `yaml:"owner_alias"`
	OwnerID      string            `yaml:"owner_id"`
	CreationDate string            `yaml:"creation_date"`
	Mapping      map[string]string `yaml:"mapping"` // backend-specific, e.g. a disk image path
}

// Backend is the image as a backend receives it.
func (i Image) Backend() backend.Image {
	return backend.Image{ID: i.ID, Name: i.Name, Architecture: i.Architecture, Platform: i.Platform,
		RootDeviceName: i.RootDeviceName, RootDeviceType: i.RootDeviceType, RootSizeGiB: i.RootSizeGiB, Mapping: i.Mapping}
}

// file is the layout of one YAML file in the templates directory.
type file struct {
	InstanceTypes []InstanceType `yaml:"instance_types"`
	Images        []Image        `yaml:"images"`
}

// Catalog is the set of instance types and images the server offers.
// It is read-only once built, so handlers share it without locking.
type Catalog struct {
	types       []InstanceType // sorted by name
	images      []Image        // sorted by id
	typeByName  map[string]int
	imageByID   map[string]int
	defaultType string
}

// Default returns the built-in catalog.
func Default() *Catalog {
	c, err := build(builtinTypes, builtinImages)
	if err != nil {
		panic(err) // the built-ins are constants checked by the tests
	}
	return c
}

// Load returns the built-ins merged with every *.yaml / *.yml file in dir
// (in name order; an entry with the name or id of an earlier one replaces
// it). dir "" means the built-ins only. Unknown keys are errors.
func Load(dir string) (*Catalog, error) {
	types := append([]InstanceType(nil), builtinTypes...)
	images := append([]Image(nil), builtinImages...)
	if dir != "" {
		paths, err := yamlFiles(dir)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			f, err := readFile(p)
			if err != nil {
				return nil, err
			}
			types = append(types, f.InstanceTypes...)
			images = append(images, f.Images...)
		}
	}
	return build(types, images)
}

func yamlFiles(dir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	return out, nil
}

func readFile(path string) (*file, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	f := &file{}
	// An empty file decodes as io.EOF: it simply adds nothing.
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("templates: %s: %w", path, err)
	}
	return f, nil
}

// build applies later entries over earlier ones with the same key, fills
// defaults and checks every entry, naming each bad one.
func build(types []InstanceType, images []Image) (*Catalog, error) {
	c := &Catalog{typeByName: map[string]int{}, imageByID: map[string]int{}}
	var problems []error
	for _, t := range types {
		if err := t.check(); err != nil {
			problems = append(problems, err)
			continue
		}
		if t.Architecture == "" {
			t.Architecture = "x86_64"
		}
		if t.Default {
			c.defaultType = t.Name
		}
		if i, dup := c.typeByName[t.Name]; dup {
			c.types[i] = t
		} else {
			c.typeByName[t.Name] = len(c.types)
			c.types = append(c.types, t)
		}
	}
	for _, im := range images {
		if err := im.check(); err != nil {
			problems = append(problems, err)
			continue
		}
		im.fillDefaults()
		if i, dup := c.imageByID[im.ID]; dup {
			c.images[i] = im
		} else {
			c.imageByID[im.ID] = len(c.images)
			c.images = append(c.images, im)
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	c.index()
	return c, nil
}

// index sorts the entries and, when no entry was marked default (the last
// one marked wins, so a file can override the built-in choice), picks
// m1.small as EC2 documents, else the first.
func (c *Catalog) index() {
	sort.Slice(c.types, func(i, j int) bool { return c.types[i].Name < c.types[j].Name })
	sort.Slice(c.images, func(i, j int) bool { return c.images[i].ID < c.images[j].ID })
	c.typeByName, c.imageByID = map[string]int{}, map[string]int{}
	for i, t := range c.types {
		c.typeByName[t.Name] = i
	}
	for i, im := range c.images {
		c.imageByID[im.ID] = i
	}
	if c.defaultType == "" && len(c.types) > 0 {
		c.defaultType = c.types[0].Name
		if _, ok := c.typeByName["m1.small"]; ok {
			c.defaultType = "m1.small"
		}
	}
}

func (t InstanceType) check() error {
	switch {
	case t.Name == "" || strings.ContainsAny(t.Name, " \t/"):
		return fmt.Errorf("templates: instance type %q: name must be set, without spaces or '/'", t.Name)
	case t.VCPUs < 1:
		return fmt.Errorf("templates: instance type %s: vcpus must be >= 1", t.Name)
	case t.MemoryMiB < 1:
		return fmt.Errorf("templates: instance type %s: memory_mib must be >= 1", t.Name)
	case t.PricePerHour < 0:
		return fmt.Errorf("templates: instance type %s: price_per_hour must be >= 0", t.Name)
	case t.StoppedPricePerHour < 0:
		return fmt.Errorf("templates: instance type %s: stopped_price_per_hour must be >= 0", t.Name)
	case t.MinBilledSeconds < 0:
		return fmt.Errorf("templates: instance type %s: min_billed_seconds must be >= 0", t.Name)
	}
	return nil
}

func (im Image) check() error {
	if !store.ValidID("ami", im.ID) {
		return fmt.Errorf("templates: image %q: id must be ami- and 8 or 17 hex digits", im.ID)
	}
	if im.Name == "" {
		return fmt.Errorf("templates: image %s: name must be set", im.ID)
	}
	if im.SnapshotID != "" && !store.ValidID("snap", im.SnapshotID) {
		return fmt.Errorf("templates: image %s: snapshot_id %q must be snap- and 8 or 17 hex digits", im.ID, im.SnapshotID)
	}
	if im.RootDeviceType != "" && im.RootDeviceType != "ebs" && im.RootDeviceType != "instance-store" {
		return fmt.Errorf("templates: image %s: root_device_type must be ebs or instance-store", im.ID)
	}
	return nil
}

func (im *Image) fillDefaults() {
	if im.Architecture == "" {
		im.Architecture = "x86_64"
	}
	if im.RootDeviceName == "" {
		im.RootDeviceName = "/dev/xvda"
	}
	if im.RootDeviceType == "" {
		im.RootDeviceType = "ebs"
	}
	if im.RootSizeGiB == 0 {
		im.RootSizeGiB = 8
	}
	if im.OwnerAlias == "" {
		im.OwnerAlias = "econe"
	}
	if im.OwnerID == "" {
		im.OwnerID = "000000000000"
	}
	if im.CreationDate == "" {
		im.CreationDate = "2024-01-01T00:00:00.000Z"
	}
}

// InstanceType returns the named type.
func (c *Catalog) InstanceType(name string) (InstanceType, bool) {
	i, ok := c.typeByName[name]
	if !ok {
		return InstanceType{}, false
	}
	return c.types[i], true
}

// DefaultInstanceType is the type RunInstances uses when none is named.
func (c *Catalog) DefaultInstanceType() InstanceType {
	t, _ := c.InstanceType(c.defaultType)
	return t
}

// InstanceTypes returns every type in name order (the caller must not modify it).
func (c *Catalog) InstanceTypes() []InstanceType { return c.types }

// Image returns the image with the id.
func (c *Catalog) Image(id string) (Image, bool) {
	i, ok := c.imageByID[id]
	if !ok {
		return Image{}, false
	}
	return c.images[i], true
}

// Images returns every image in id order (the caller must not modify it).
func (c *Catalog) Images() []Image { return c.images }

// ImageFromSnapshot returns an image registered from the snapshot, if any.
func (c *Catalog) ImageFromSnapshot(snapshotID string) (Image, bool) {
	for _, im := range c.images {
		if im.SnapshotID == snapshotID {
			return im, true
		}
	}
	return Image{}, false
}

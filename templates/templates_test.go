package templates

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestBuiltins(t *testing.T) {
	c := Default()
	if got, want := c.DefaultInstanceType().Name, "m1.small"; got != want {
		t.Errorf("default type: got %s, want %s", got, want)
	}
	for _, name := range []string{"t2.micro", "t3.micro", "t3.small", "t3.medium", "m1.small", "m1.large", "c5.large"} {
		if _, ok := c.InstanceType(name); !ok {
			t.Errorf("built-in type %s missing", name)
		}
	}
	// The images the recorded hadoop-ec2 traces launch.
	for _, id := range []string{"ami-12c6146b", "ami-ec48af85"} {
		if _, ok := c.Image(id); !ok {
			t.Errorf("built-in image %s missing", id)
		}
	}
	im, _ := c.Image("ami-0a1b2c3d4e5f60001")
	if im.Name != "debian-12" || im.RootDeviceType != "ebs" || im.RootSizeGiB != 8 || im.Architecture != "x86_64" {
		t.Errorf("debian-12 defaults: got %+v", im)
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMergesFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "10-types.yaml", `
instance_types:
  - name: lab.gpu
    vcpus: 8
    memory_mib: 32768
    price_per_hour: 1.5
    default: true
    settings: {qemu_machine: q35}
  - name: t3.micro
    vcpus: 4
    memory_mib: 2048
`)
	write(t, dir, "20-images.yml", `
images:
  - id: ami-0123456789abcdef0
    name: course-image
    mapping: {disk: /var/lib/images/course.qcow2}
`)
	write(t, dir, "30-empty.yaml", "")
	write(t, dir, "notes.txt", "not yaml: [")
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"default type", c.DefaultInstanceType().Name, "lab.gpu"},
		{"override", itoa(mustType(t, c, "t3.micro").VCPUs), "4"},
		{"setting", mustType(t, c, "lab.gpu").Settings["qemu_machine"], "q35"},
		{"architecture default", mustType(t, c, "lab.gpu").Architecture, "x86_64"},
		{"image mapping", mustImage(t, c, "ami-0123456789abcdef0").Mapping["disk"], "/var/lib/images/course.qcow2"},
		{"built-in kept", mustImage(t, c, "ami-12c6146b").Name, "hadoop-ec2-0.20"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustType(t *testing.T, c *Catalog, name string) InstanceType {
	t.Helper()
	it, ok := c.InstanceType(name)
	if !ok {
		t.Fatalf("type %s missing", name)
	}
	return it
}

func mustImage(t *testing.T, c *Catalog, id string) Image {
	t.Helper()
	im, ok := c.Image(id)
	if !ok {
		t.Fatalf("image %s missing", id)
	}
	return im
}

func TestLoadRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown key", "instance_types:\n  - name: x1\n    vcpus: 1\n    memory_mib: 1\n    colour: red\n", "colour"},
		{"no vcpus", "instance_types:\n  - name: x1\n    memory_mib: 1\n", "vcpus"},
		{"bad image id", "images:\n  - id: ami-xyz\n    name: n\n", "ami-xyz"},
		{"image without name", "images:\n  - id: ami-12345678\n", "name must be set"},
		{"bad root device type", "images:\n  - id: ami-12345678\n    name: n\n    root_device_type: floppy\n", "root_device_type"},
		{"not yaml", "instance_types: [\n", "templates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "bad.yaml", tt.body)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// The example shipped for admins must load, and must set every field.
func TestExampleFileLoads(t *testing.T) {
	c, err := Load("example")
	if err != nil {
		t.Fatalf("templates/example: %v", err)
	}
	if got := c.DefaultInstanceType().Name; got != "lab.small" {
		t.Errorf("default type: got %s, want lab.small", got)
	}
	im, ok := c.Image("ami-0c0ffee0c0ffee001")
	if !ok || im.RootSizeGiB != 16 || im.Mapping["disk"] == "" {
		t.Errorf("example image: got %+v, %v", im, ok)
	}
	raw, err := os.ReadFile("example/course.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(InstanceType{}), reflect.TypeOf(Image{})} {
		for i := range typ.NumField() {
			key := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]
			if !strings.Contains(string(raw), key+":") {
				t.Errorf("example/course.yaml does not show %s.%s (%s)", typ.Name(), typ.Field(i).Name, key)
			}
		}
	}
}

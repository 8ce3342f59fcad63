package store

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"
)

// Zero numbers and false are left out of records (omitzero: under json v2,
// omitempty drops only empty strings, slices, maps and objects), and a
// record written before, with them spelled out, reads the same: a data
// directory of the same schema needs no migration.
func TestRecordsOmitZeroFields(t *testing.T) {
	st, _ := openTemp(t)
	cases := []struct {
		name   string
		bucket Bucket
		key    string
		old    string   // as the previous code wrote it
		absent []string // what a rewrite leaves out
		fresh  func() any
	}{
		{"instance", BucketInstances, "ann/i-0371c9bf01e2d26cc",
			`{"id":"i-0371c9bf01e2d26cc","owner":"ann","reservation_id":"r-f695601bdf197acbc","backend_id":"sim-0371c9bf01e2d26cc","image_id":"ami-12c6146b","instance_type":"t2.micro","vcpus":1,"launch_index":0,"zone":"us-east-1a","state":"running","state_changed":"2026-12-03T13:42:01.511797134Z","launch_time":"2026-12-03T13:42:01.506513071Z","private_ip":"10.64.78.55","groups":[{"id":"sg-ae59081bcb4fa86a2","name":"default"}],"shutdown_behavior":"stop","disable_api_termination":false,"options":{"ebs_optimized":false,"monitoring":false,"hibernation":false,"disable_api_stop":false,"no_source_dest_check":false,"metadata":{"hop_limit":0}}}`,
			[]string{"launch_index", "disable_api_termination", "options"}, func() any { return new(Instance) }},
		{"instance with options", BucketInstances, "ann/i-1",
			`{"id":"i-1","owner":"ann","vcpus":2,"launch_index":1,"zone":"us-east-1a","state":"stopped","state_changed":"2026-12-03T13:42:01Z","launch_time":"2026-12-03T13:42:01Z","disable_api_termination":true,"options":{"ebs_optimized":false,"monitoring":true,"hibernation":false,"disable_api_stop":false,"no_source_dest_check":false,"metadata":{"http_tokens":"required","hop_limit":0}}}`,
			[]string{"ebs_optimized", "hibernation", "disable_api_stop", "no_source_dest_check", "hop_limit"}, func() any { return new(Instance) }},
		{"volume", BucketVolumes, "ann/vol-1",
			`{"id":"vol-1","owner":"ann","zone":"us-east-1a","size_gib":8,"type":"gp2","iops":0,"throughput":0,"encrypted":false,"created":"2026-12-03T13:42:01Z","state":"available","until":"0001-01-01T00:00:00Z","multi_attach":false}`,
			[]string{"iops", "throughput", "encrypted", "multi_attach"}, func() any { return new(Volume) }},
		{"subnet", BucketSubnets, "ann/subnet-1",
			`{"id":"subnet-1","owner":"ann","vpc_id":"vpc-1","cidr":"10.0.0.0/24","zone":"us-east-1a","default_for_az":false,"map_public_ip":false}`,
			[]string{"default_for_az", "map_public_ip"}, func() any { return new(Subnet) }},
		{"counters", BucketCounters, "ann",
			`{"instances":{"running":1},"vcpus":1,"stopped_vcpus":0,"addresses":0,"volumes":0,"volume_gib":0,"snapshots":0,"key_pairs":0,"security_groups":1,"vpcs":0}`,
			[]string{"stopped_vcpus", "addresses", "volume_gib", "key_pairs", "vpcs"}, func() any { return new(Counters) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			was, now := c.fresh(), c.fresh()
			var raw []byte
			err := st.Update(func(tx Tx) error {
				if err := tx.Put(c.bucket, c.key, []byte(c.old)); err != nil {
					return err
				}
				if _, err := GetJSON(tx, c.bucket, c.key, was); err != nil {
					return err
				}
				if err := PutJSON(tx, c.bucket, c.key, was); err != nil {
					return err
				}
				raw = bytes.Clone(tx.Get(c.bucket, c.key))
				_, err := GetJSON(tx, c.bucket, c.key, now)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.absent {
				if bytes.Contains(raw, []byte(`"`+f+`":`)) {
					t.Errorf("rewritten record %s: got field %q, want it left out", raw, f)
				}
			}
			if !reflect.DeepEqual(now, was) {
				t.Errorf("rewritten record reads: got %+v, want %+v (the old record's)", now, was)
			}
		})
	}
}

// An instance's record leaves out its key (OWNER/ID) and what equals a
// default (shutdown behavior stop, base image the image itself); it reads
// as it was written, and so do the records written before, which have all.
func TestInstanceRecordLeavesOutKeyAndDefaults(t *testing.T) {
	st, _ := openTemp(t)
	cases := []struct {
		name   string
		old    string   // the record as the previous code wrote it
		absent []string // fragments a rewrite leaves out
		kept   []string
	}{
		{"defaults",
			`{"id":"i-0371c9bf01e2d26cc","owner":"s001","reservation_id":"r-f695601bdf197acbc","backend_id":"sim-0371c9bf01e2d26cc","image_id":"ami-12c6146b","instance_type":"t2.micro","vcpus":1,"launch_index":19,"zone":"us-east-1a","client_token":"ee00ee40-cd72-4e0a-83db-48441503508c","launch_hash":"e10978dea9c37171298bc9b6c1722f91ae9140b1eb1dd745afd32b3ecb9101e1","state":"running","state_changed":"2026-12-03T13:42:01.511797134Z","launch_time":"2026-12-03T13:42:01.506513071Z","private_ip":"10.64.78.55","private_dns":"ip-10-64-78-55.ec2.internal","groups":[{"id":"sg-ae59081bcb4fa86a2","name":"default"}],"vpc_id":"vpc-7b47070777631cffa","subnet_id":"subnet-4a4693c7547cace5a","shutdown_behavior":"stop","disable_api_termination":false,"root_device_name":"/dev/sda1","base_image_id":"ami-12c6146b","options":{"ebs_optimized":false,"monitoring":false,"hibernation":false,"disable_api_stop":false,"no_source_dest_check":false,"metadata":{"hop_limit":0}}}`,
			[]string{`"id":"i-`, `"owner":`, `"shutdown_behavior":`, `"base_image_id":`, `"disable_api_termination":`, `"options":`},
			[]string{`"image_id":"ami-12c6146b"`, `"launch_hash"`}},
		{"not defaults",
			`{"id":"i-0371c9bf01e2d26cc","owner":"s001","image_id":"ami-0123456789abcdef0","instance_type":"t2.micro","vcpus":1,"zone":"us-east-1a","state":"stopped","state_changed":"2026-12-03T13:42:01Z","launch_time":"2026-12-03T13:42:01Z","shutdown_behavior":"terminate","base_image_id":"ami-12c6146b"}`,
			[]string{`"id":"i-`, `"owner":`},
			[]string{`"shutdown_behavior":"terminate"`, `"base_image_id":"ami-12c6146b"`}},
		// Before the launch options and images: no shutdown behavior, no
		// base image. It launched with EC2's default, from its image.
		{"oldest",
			`{"id":"i-0371c9bf01e2d26cc","owner":"s001","image_id":"ami-12c6146b","instance_type":"t2.micro","zone":"us-east-1a","state":"running","state_changed":"2026-12-03T13:42:01Z","launch_time":"2026-12-03T13:42:01Z"}`,
			[]string{`"id":"i-`, `"owner":`, `"shutdown_behavior":`, `"base_image_id":`},
			[]string{`"image_id":"ami-12c6146b"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var was, now *Instance
			var raw []byte
			err := st.Update(func(tx Tx) error {
				if err := tx.Put(BucketInstances, "s001/i-0371c9bf01e2d26cc", []byte(c.old)); err != nil {
					return err
				}
				var err error
				if was, err = GetInstance(tx, "s001", "i-0371c9bf01e2d26cc"); err != nil {
					return err
				}
				if err := PutInstance(tx, was); err != nil {
					return err
				}
				raw = bytes.Clone(tx.Get(BucketInstances, "s001/i-0371c9bf01e2d26cc"))
				now, err = GetInstance(tx, "s001", "i-0371c9bf01e2d26cc")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var legacy Instance // the old record as it was decoded before
			if err := json.Unmarshal([]byte(c.old), &legacy); err != nil {
				t.Fatal(err)
			}
			if legacy.ShutdownBehavior == "" {
				legacy.ShutdownBehavior = "stop"
			}
			if legacy.BaseImageID == "" {
				legacy.BaseImageID = legacy.ImageID
			}
			if !reflect.DeepEqual(was, &legacy) {
				t.Errorf("old record reads: got %+v, want %+v", was, &legacy)
			}
			if !reflect.DeepEqual(now, was) {
				t.Errorf("rewritten record reads: got %+v, want %+v (the old record's)", now, was)
			}
			for _, f := range c.absent {
				if bytes.Contains(raw, []byte(f)) {
					t.Errorf("rewritten record %s: got %s, want it left out", raw, f)
				}
			}
			for _, f := range c.kept {
				if !bytes.Contains(raw, []byte(f)) {
					t.Errorf("rewritten record %s: got no %s, want it kept", raw, f)
				}
			}
		})
	}
}

// Records are read without checking their member names for duplicates
// (Marshal never writes one): a repeated member reads as its last value.
func TestDecodeRepeatedMember(t *testing.T) {
	cases := []struct {
		name, raw, wantState string
	}{
		{"once", `{"state":"running"}`, "running"},
		{"twice", `{"state":"pending","state":"running"}`, "running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var inst Instance
			if err := decode(BucketInstances, "ann/i-1", []byte(c.raw), &inst); err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if inst.State != c.wantState || inst.ID != "i-1" {
				t.Errorf("got state %q, id %q, want %q, %q", inst.State, inst.ID, c.wantState, "i-1")
			}
		})
	}
}

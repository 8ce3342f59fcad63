package e2e

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/econetest"
)

// The recorded hadoop-ec2 storage commands (boto 2.0b3, SigV2, Version
// 2010-08-31: create-formatted-snapshot, create-storage, attach-storage,
// delete-storage) replayed re-signed. The whole run is replayed, since the
// volume calls need its instances; the volume and snapshot calls must all
// succeed and answer the fields that boto reads (compat doc, item 8).

// hadoopVolumeXML is what boto 2.0b3 reads of a volume.
type hadoopVolumeXML struct {
	VolumeID    string `xml:"volumeId"`
	Size        string `xml:"size"`
	SnapshotID  string `xml:"snapshotId"`
	Zone        string `xml:"availabilityZone"`
	Status      string `xml:"status"`
	CreateTime  string `xml:"createTime"`
	Attachments []struct {
		InstanceID string `xml:"instanceId"`
		Device     string `xml:"device"`
		Status     string `xml:"status"`
		AttachTime string `xml:"attachTime"`
	} `xml:"attachmentSet>item"`
}

// hadoopReply is every field the scripts' boto reads from the replies of
// the calls replayed here (each reply fills its own).
type hadoopReply struct {
	hadoopVolumeXML
	Volumes    []hadoopVolumeXML `xml:"volumeSet>item"`
	SnapshotID string            `xml:"snapshotId"`
	StartTime  string            `xml:"startTime"`
}

var hadoopVolumeActions = map[string]bool{
	"CreateVolume": true, "AttachVolume": true, "DetachVolume": true, "DescribeVolumes": true,
	"DeleteVolume": true, "CreateSnapshot": true,
}

func TestHadoopTraceVolumes(t *testing.T) {
	hadoopTraceVolumes(t, econetest.Start(t))
}

func hadoopTraceVolumes(t *testing.T, e *econetest.Env) {
	creds := e.User(t, "hadoop")
	ctx := econetest.Context(t)
	if _, err := e.EC2(creds).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("cs61c-ab-default")}); err != nil {
		t.Fatal(err)
	}
	rp := NewReplayer(e, creds)
	rp.Rewrite = func(te TraceEntry, p url.Values) {
		if p.Get("UserData") != "" { // the recording redacted it
			p.Set("UserData", gzipBase64(t, "#!/bin/sh\necho hadoop\n"))
		}
	}
	entries := LoadTrace(t, "hadoop-ec2-boto-2.0b3-trace.jsonl")
	volumeCalls := 0
	var lastDescribe string
	for i, te := range entries {
		action := te.Action()
		r := rp.Send(t, te)
		if action != "RunInstances" && !hadoopVolumeActions[action] {
			continue // the other families' calls have their own tests
		}
		if action != "DescribeVolumes" {
			settleVolumes(e, action == "CreateSnapshot")
		}
		if r.status != 200 || r.code != "" {
			t.Fatalf("call %d %s: got %d %s %s, want success", i, action, r.status, r.code, r.message)
		}
		if !strings.Contains(r.body, `xmlns="http://ec2.amazonaws.com/doc/2010-08-31/"`) {
			t.Errorf("call %d %s: answer is not in the 2010-08-31 namespace: %s", i, action, r.body)
		}
		var got hadoopReply
		if err := xml.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatalf("call %d %s: %v\n%s", i, action, err, r.body)
		}
		switch action {
		case "RunInstances":
			mapRecordedIDs(t, rp, r.body, entries[i+1:])
		case "CreateVolume":
			checkHadoopVolume(t, i, rp, got.hadoopVolumeXML, "creating", "available")
			mapLive(rp, entries[i+1:], "vol-", []string{got.VolumeID})
		case "CreateSnapshot":
			if got.VolumeID != rp.IDs[te.Params["VolumeId"]] || !parsesAsTime(got.StartTime) {
				t.Errorf("call %d CreateSnapshot: got volume %q start %q, want %s and a time", i, got.VolumeID, got.StartTime, rp.IDs[te.Params["VolumeId"]])
			}
			mapLive(rp, entries[i+1:], "snap-", []string{got.SnapshotID})
		case "DescribeVolumes":
			if len(got.Volumes) != len(rp.Params(te))-2 { // less Action and Version
				t.Errorf("call %d DescribeVolumes: got %d volumes, want one per VolumeId.N", i, len(got.Volumes))
			}
			for _, v := range got.Volumes {
				checkHadoopVolume(t, i, rp, v, "available", "in-use")
			}
			lastDescribe = r.body
		}
		if action != "RunInstances" {
			volumeCalls++
		}
	}
	if volumeCalls != 20 {
		t.Fatalf("replayed %d volume and snapshot calls, want the recording's 20", volumeCalls)
	}
	checkWithBoto2(t, e, rp, lastDescribe)
	checkAfterHadoopRun(t, e, rp)
}

// boto2ParseVolumes parses a DescribeVolumes answer with boto's own
// classes (Debian's boto 2.49), as the scripts read it.
const boto2ParseVolumes = `
import json, sys, xml.sax
import boto.handler, boto.resultset
from boto.ec2.volume import Volume
rs = boto.resultset.ResultSet([("item", Volume)])
xml.sax.parseString(sys.stdin.read().encode(), boto.handler.XmlHandler(rs, None))
print(json.dumps([[v.id, v.size, v.status, v.zone, v.attach_data.instance_id, v.attach_data.device, v.attach_data.status] for v in rs]))
`

// checkWithBoto2: at the run's last DescribeVolumes both storage volumes
// are attached at /dev/sdj to the cluster's instances.
func checkWithBoto2(t *testing.T, e *econetest.Env, rp *Replayer, body string) {
	t.Helper()
	out, err := e.Boto2(t, rp.Creds, "import sys, io; sys.stdin = io.StringIO("+strconv.Quote(body)+")\n"+boto2ParseVolumes)
	var vols [][]any
	decodeOutput(t, out, err, &vols)
	if len(vols) != 2 {
		t.Fatalf("boto read %v, want the two storage volumes", vols)
	}
	for _, v := range vols {
		if v[1] != float64(1) || v[2] != "in-use" || v[3] != "us-east-1a" || !isLive(rp, fmt.Sprint(v[4])) || v[5] != "/dev/sdj" || v[6] != "attached" {
			t.Errorf("boto read %v, want size 1 (a number), in-use in us-east-1a, attached at /dev/sdj to a run's instance", v)
		}
	}
}

// checkHadoopVolume checks the fields boto reads: size an integer, a
// status it knows, a parseable createTime, and attachments in full.
func checkHadoopVolume(t *testing.T, call int, rp *Replayer, v hadoopVolumeXML, statuses ...string) {
	t.Helper()
	size, err := strconv.Atoi(v.Size)
	switch {
	case !strings.HasPrefix(v.VolumeID, "vol-"), err != nil || size != 1, v.Zone != "us-east-1a", !parsesAsTime(v.CreateTime):
		t.Errorf("call %d: volume %+v, want a vol- id, size 1, zone us-east-1a and a createTime", call, v)
	case v.Status != statuses[0] && v.Status != statuses[1]:
		t.Errorf("call %d: volume %s is %q, want %v", call, v.VolumeID, v.Status, statuses)
	case v.SnapshotID != "" && !isLive(rp, v.SnapshotID):
		t.Errorf("call %d: volume %s from snapshot %q, want the snapshot the run made", call, v.VolumeID, v.SnapshotID)
	case (v.Status == "in-use") != (len(v.Attachments) == 1):
		t.Errorf("call %d: volume %s is %s with attachments %+v", call, v.VolumeID, v.Status, v.Attachments)
	}
	for _, a := range v.Attachments {
		if !isLive(rp, a.InstanceID) || a.Device != "/dev/sdj" || a.Status != "attached" || !parsesAsTime(a.AttachTime) {
			t.Errorf("call %d: attachment of %s is %+v, want a run's instance at /dev/sdj, attached, with attachTime", call, v.VolumeID, a)
		}
	}
}

// checkAfterHadoopRun: delete-storage deleted the first volume, and
// terminate-cluster left the three storage volumes available (they are
// not DeleteOnTermination) and the snapshot completed.
func checkAfterHadoopRun(t *testing.T, e *econetest.Env, rp *Replayer) {
	t.Helper()
	c := e.EC2(rp.Creds)
	ctx := econetest.Context(t)
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, v := range vols.Volumes {
		states = append(states, string(v.State)+" "+aws.ToString(v.SnapshotId))
	}
	sort.Strings(states)
	snap := rp.IDs["snap-d9bc0587ef057966a"]
	if want := strings.Repeat("available "+snap+",", 3); strings.Join(states, ",")+"," != want {
		t.Errorf("after the run: got volumes %v, want 3 available from %s", states, snap)
	}
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil || len(snaps.Snapshots) != 1 || snaps.Snapshots[0].State != types.SnapshotStateCompleted {
		t.Errorf("after the run: got snapshots %+v (%v), want one completed", snaps, err)
	}
}

// mapLive maps live ids, in order, to the recorded ids of that prefix
// that the rest of the trace names first and that are not mapped yet: the
// volume and snapshot counterpart of mapRecordedIDs.
func mapLive(rp *Replayer, rest []TraceEntry, prefix string, live []string) {
	var recorded []string
	seen := map[string]bool{}
	for _, te := range rest {
		keys := make([]string, 0, len(te.Params))
		for k := range te.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := te.Params[k]
			if _, mapped := rp.IDs[v]; strings.HasPrefix(v, prefix) && !mapped && !seen[v] {
				seen[v] = true
				recorded = append(recorded, v)
			}
		}
	}
	for i, id := range live {
		if i < len(recorded) {
			rp.Map(recorded[i], id)
		}
	}
}

func isLive(rp *Replayer, id string) bool {
	for _, live := range rp.IDs {
		if live == id {
			return true
		}
	}
	return false
}

func parsesAsTime(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

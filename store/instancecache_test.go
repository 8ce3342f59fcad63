package store

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// getInstance is GetInstances of one id in its own View.
func getInstance(t *testing.T, st Store, owner, id string) *Instance {
	t.Helper()
	var got []*Instance
	if err := st.View(func(tx Tx) error {
		var err error
		got, err = GetInstances(tx, owner, []string{id})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func putInstance(t *testing.T, st Store, inst *Instance) {
	t.Helper()
	if err := st.Update(func(tx Tx) error { return PutInstance(tx, inst) }); err != nil {
		t.Fatal(err)
	}
}

// A record decoded before is only reused while its bytes are the same:
// every read after a change (in the same store, or another store's record
// at the same key) sees the change.
func TestGetInstancesSeesChangedRecord(t *testing.T) {
	st, other := openTestBolt(t), openTestBolt(t)
	inst := &Instance{ID: "i-1", Owner: "ann", State: "pending", BackendID: "m-1", Groups: []GroupRef{{ID: "sg-1", Name: "default"}}}
	putInstance(t, st, inst)
	getInstance(t, st, "ann", "i-1") // remembered
	inst.State, inst.Groups = "running", []GroupRef{{ID: "sg-2", Name: "web"}}
	putInstance(t, st, inst)
	inst.State = "stopped"
	putInstance(t, other, inst)
	cases := []struct {
		name        string
		st          Store
		state, sgID string
	}{
		{"changed record", st, "running", "sg-2"},
		{"read again", st, "running", "sg-2"},
		{"another store's record", other, "stopped", "sg-2"},
		{"the first store's again", st, "running", "sg-2"},
	}
	for _, c := range cases {
		got := getInstance(t, c.st, "ann", "i-1")
		if got.State != c.state || got.Groups[0].ID != c.sgID {
			t.Errorf("%s: got state %s, group %s, want %s, %s", c.name, got.State, got.Groups[0].ID, c.state, c.sgID)
		}
	}
}

// What a reader changes in the instance it got is its own: the next read
// of the same record does not see it.
func TestGetInstancesCopies(t *testing.T) {
	st := openTestBolt(t)
	putInstance(t, st, &Instance{ID: "i-1", Owner: "ann", State: "running", BackendID: "m-1",
		Groups: []GroupRef{{ID: "sg-1", Name: "default"}}, UserData: []byte("echo hi")})
	first := getInstance(t, st, "ann", "i-1")
	first.State, first.Groups[0].Name, first.UserData[0] = "terminated", "changed", 'X'
	first.BlockDevices = append(first.BlockDevices, BlockDevice{DeviceName: "/dev/sdf"})
	got := getInstance(t, st, "ann", "i-1")
	if got.State != "running" || got.Groups[0].Name != "default" || string(got.UserData) != "echo hi" || len(got.BlockDevices) != 0 {
		t.Errorf("second read: got %s, %s, %q, %d devices, want running, default, \"echo hi\", 0", got.State, got.Groups[0].Name, got.UserData, len(got.BlockDevices))
	}
	if got.ID != "i-1" || got.Owner != "ann" || got.ShutdownBehavior != "stop" {
		t.Errorf("key and defaults: got %s/%s %q, want ann/i-1 \"stop\"", got.Owner, got.ID, got.ShutdownBehavior)
	}
}

// clone shares no changeable memory with the original in any field a
// record stores (every one filled here, so a new slice, map or pointer
// field fails until clone copies it).
func TestInstanceCloneSharesNothing(t *testing.T) {
	var inst Instance
	fill(t, reflect.ValueOf(&inst).Elem())
	c := inst.clone()
	if !reflect.DeepEqual(*c, inst) {
		t.Fatalf("clone: got %+v, want %+v", *c, inst)
	}
	sharesNothing(t, "Instance", reflect.ValueOf(inst), reflect.ValueOf(*c))
}

// fill gives every stored field of v a value other than zero.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() && !strings.HasPrefix(f.Tag.Get("json"), "-") {
				fill(t, v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k)
		fill(t, e)
		v.SetMapIndex(k, e)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	default:
		t.Fatalf("fill: a field of kind %s: teach fill and clone about it", v.Kind())
	}
}

// sharesNothing fails where a and b (equal values) share a slice's array,
// a map or a pointer's target.
func sharesNothing(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return // a value; its location is shared by design
		}
		for i := range a.NumField() {
			sharesNothing(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: got the same array in the clone, want a copy", path)
		}
		for i := range min(a.Len(), b.Len()) {
			sharesNothing(t, path+"[]", a.Index(i), b.Index(i))
		}
	case reflect.Map, reflect.Pointer:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			t.Errorf("%s: got the same %s in the clone, want a copy", path, a.Kind())
		}
		if a.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil() {
			sharesNothing(t, path, a.Elem(), b.Elem())
		}
	}
}

// Readers of one remembered record, each changing its copy, while a
// writer changes the record: under -race, any memory they shared fails.
func TestGetInstancesConcurrentReaders(t *testing.T) {
	st := openTestBolt(t)
	inst := &Instance{ID: "i-1", Owner: "ann", State: "running", BackendID: "m-1", Groups: []GroupRef{{ID: "sg-1"}}, UserData: []byte("u")}
	putInstance(t, st, inst)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				var got []*Instance
				if err := st.View(func(tx Tx) error {
					var err error
					got, err = GetInstances(tx, "ann", []string{"i-1"})
					return err
				}); err != nil {
					t.Error(err)
					return
				}
				got[0].Groups[0].Name, got[0].UserData[0], got[0].State = "mine", 'x', "mine"
			}
		}()
	}
	for i := range 20 {
		inst.State = []string{"running", "stopped"}[i%2]
		putInstance(t, st, inst)
	}
	for range 4 {
		<-done
	}
	if got := getInstance(t, st, "ann", "i-1"); got.State != "stopped" || got.Groups[0].Name != "" || string(got.UserData) != "u" {
		t.Errorf("after the readers: got %s, %q, %q, want stopped, \"\", \"u\"", got.State, got.Groups[0].Name, got.UserData)
	}
}

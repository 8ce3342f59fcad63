package store

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync/atomic"
)

// decodedInstances remembers instance records decoded by GetInstances (a
// describe by id), each with the bytes it came from. A decode is a pure
// function of the key and those bytes, so an entry is used only when both
// are the same as the read's, whatever store or transaction read them:
// every answer still comes from the record as read, nothing is ever
// invalidated, and a changed record is decoded afresh. Decoding an
// instance was about 6 % of a describe's CPU under wrk; comparing its
// 600 bytes and copying the value costs a tenth of that.
//
// The table is direct-mapped by the key's hash and bounded
// (instanceCacheSlots entries, about 2 kB each): a later record in the same
// slot replaces the earlier one.
type decodedInstances struct {
	seed  maphash.Seed
	slots [instanceCacheSlots]atomic.Pointer[decodedInstance]
}

const instanceCacheSlots = 2048

// decodedInstance is immutable once published; readers get copies of inst.
type decodedInstance struct {
	key  string
	raw  []byte
	inst Instance
}

var instanceCache = &decodedInstances{seed: maphash.MakeSeed()}

func (c *decodedInstances) slot(key string) *atomic.Pointer[decodedInstance] {
	return &c.slots[maphash.String(c.seed, key)%instanceCacheSlots]
}

// decode is the instance record raw at key, as decode would return it.
// raw may be the store's own memory: it is copied if remembered.
func (c *decodedInstances) decode(key string, raw []byte) (*Instance, error) {
	slot := c.slot(key)
	if e := slot.Load(); e != nil && e.key == key && bytes.Equal(e.raw, raw) {
		return e.inst.clone(), nil
	}
	inst := new(Instance)
	if err := decode(BucketInstances, key, raw, inst); err != nil {
		return nil, err
	}
	slot.Store(&decodedInstance{key: key, raw: bytes.Clone(raw), inst: *inst.clone()})
	return inst, nil
}

// clone is a copy of a decoded instance that shares no memory a caller
// may change with it (strings are immutable). BlockDevices and Interfaces
// are never stored, so nil in a decoded record. A new slice, map or
// pointer field of Instance that is stored must be copied here:
// TestInstanceCloneSharesNothing fails until it is.
func (inst *Instance) clone() *Instance {
	c := *inst
	c.Groups = slices.Clone(inst.Groups)
	c.UserData = slices.Clone(inst.UserData)
	return &c
}

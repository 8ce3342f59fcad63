package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// copyBatch is how many keys one Update of Copy writes.
const copyBatch = 500

// Sum is one bucket's key count and a SHA-256 over its keys and values in
// key order (each length-prefixed), to compare two stores.
type Sum struct {
	Keys int
	Hash [sha256.Size]byte
}

// Sums reads every bucket's Sum in one snapshot.
func Sums(st Store) (map[Bucket]Sum, error) {
	out := map[Bucket]Sum{}
	err := st.View(func(tx Tx) error {
		for _, b := range Buckets {
			h, n := sha256.New(), 0
			if err := tx.Scan(b, "", func(k string, v []byte) error {
				h.Write(binary.AppendUvarint(nil, uint64(len(k))))
				h.Write([]byte(k))
				h.Write(binary.AppendUvarint(nil, uint64(len(v))))
				h.Write(v)
				n++
				return nil
			}); err != nil {
				return err
			}
			s := Sum{Keys: n}
			h.Sum(s.Hash[:0])
			out[b] = s
		}
		return nil
	})
	return out, err
}

// Copy copies every bucket of src into dst, which must hold nothing but
// its schema version, then checks that both have the same Sums. src must
// not change meanwhile (its server stopped).
func Copy(dst, src Store) (map[Bucket]Sum, error) {
	if err := dst.View(func(tx Tx) error {
		for _, b := range Buckets {
			if err := tx.Scan(b, "", func(k string, _ []byte) error {
				if b == BucketMeta && k == schemaKey {
					return nil
				}
				return fmt.Errorf("store: the target is not empty (bucket %s has %q): copy only into a new database", b, k)
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	err := src.View(func(stx Tx) error {
		for _, b := range Buckets {
			var keys []string
			var values [][]byte
			flush := func() error {
				err := dst.Update(func(dtx Tx) error {
					for i, k := range keys {
						if err := dtx.Put(b, k, values[i]); err != nil {
							return err
						}
					}
					return nil
				})
				keys, values = keys[:0], values[:0]
				return err
			}
			if err := stx.Scan(b, "", func(k string, v []byte) error {
				keys, values = append(keys, k), append(values, append([]byte{}, v...))
				if len(keys) == copyBatch {
					return flush()
				}
				return nil
			}); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	want, err := Sums(src)
	if err != nil {
		return nil, err
	}
	got, err := Sums(dst)
	if err != nil {
		return nil, err
	}
	for _, b := range Buckets {
		if got[b] != want[b] {
			return nil, fmt.Errorf("store: bucket %s differs after the copy: %d keys in the target, %d in the source", b, got[b].Keys, want[b].Keys)
		}
	}
	return want, nil
}

package actions

import (
	"context"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// Key pairs reach a backend with the KeyPairs ability as volumes do: the
// change is recorded first (KeyPair.Pending, the intent), the backend is
// called outside any transaction, and its answer recorded. A crash in
// between leaves the intent, which the leader's RecoverKeyPairs finishes
// once its replica is gone (the backend's calls are idempotent).

// keyInBackend makes k's pending change in the backend and records the
// answer: an import refused removes the key pair, a deletion refused
// keeps it; either way the refusal is returned.
func (s *Service) keyInBackend(ctx context.Context, k *store.KeyPair) error {
	kb := s.Backend.KeyPairs
	if kb == nil || k.Pending == "" {
		return nil
	}
	var berr error
	if k.Pending == store.KeyImporting {
		berr = kb.ImportKey(ctx, backend.KeySpec{KeyID: k.ID, Owner: k.Owner, Name: k.Name, PublicKey: k.PublicKey})
	} else {
		berr = kb.DeleteKey(ctx, k.ID)
	}
	err := s.Store.Update(func(tx store.Tx) error {
		cur, err := store.GetKeyPair(tx, k.Owner, k.ID)
		if err != nil || cur == nil || cur.Pending != k.Pending {
			return err
		}
		if (berr == nil) == (cur.Pending == store.KeyDeleting) {
			return store.DeleteKeyPair(tx, cur.Owner, cur.ID)
		}
		cur.Pending, cur.Replica = "", ""
		return store.PutKeyPair(tx, cur)
	})
	if berr != nil {
		return backendError(berr, refusals{})
	}
	return err
}

// RecoverKeyPairs finishes the key pair changes a crash of a replica now
// gone (orphaned) left between the intent and the backend's answer. The
// leader calls it (on bbolt before serving); a change the backend still
// refuses is logged and left for the next pass.
func (s *Service) RecoverKeyPairs(ctx context.Context, orphaned Orphaned) error {
	if s.Backend.KeyPairs == nil {
		return nil
	}
	var pending []*store.KeyPair
	err := s.Store.View(func(tx store.Tx) error {
		pending = nil
		return store.ScanJSON(tx, store.BucketKeyPairs, "", func(_ string, k *store.KeyPair) error {
			if k.Pending != "" && orphaned(k.Replica) {
				pending = append(pending, k)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, k := range pending {
		if err := s.keyInBackend(ctx, k); err != nil {
			s.Log.Error().Err(err).Str("key_pair", k.ID).Str("pending", k.Pending).Msg("a key pair change interrupted by a restart could not be finished")
		}
	}
	return nil
}

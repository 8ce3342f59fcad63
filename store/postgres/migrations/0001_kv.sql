-- One key/value table for every bucket of store.Buckets. Keys are bytea so
-- that they hold any byte (0x00 included) and sort bytewise, as the store
-- contract orders them; the bucket name sorts by bytes too (COLLATE "C").
CREATE TABLE econe_kv (
    bucket text COLLATE "C" NOT NULL,
    key    bytea NOT NULL CHECK (octet_length(key) > 0),
    value  bytea NOT NULL,
    PRIMARY KEY (bucket, key)
);

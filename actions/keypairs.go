package actions

import (
	"bufio"
	"cmp"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"golang.org/x/crypto/ssh"
)

var keyPairActions = map[string]Handler{
	"CreateKeyPair":    (*Service).createKeyPair,
	"ImportKeyPair":    (*Service).importKeyPair,
	"DescribeKeyPairs": (*Service).describeKeyPairs,
	"DeleteKeyPair":    (*Service).deleteKeyPair,
}

// keyTypes maps EC2's KeyType to the OpenSSH algorithm name.
var keyTypes = map[string]string{"rsa": ssh.KeyAlgoRSA, "ed25519": ssh.KeyAlgoED25519}

const (
	createdRSABits = 2048
	minImportBits  = 1024 // the RSA sizes AWS imports: 1024 to 4096 bits
	maxImportBits  = 4096
	maxKeyNameLen  = 255
)

type createKeyPairResponse struct {
	Meta
	KeyPairID      string     `xml:"keyPairId"`
	Tags           *tagSetXML `xml:"tagSet"` // absent without tags, as EC2 answers
	KeyName        string     `xml:"keyName"`
	KeyFingerprint string     `xml:"keyFingerprint"`
	KeyMaterial    string     `xml:"keyMaterial"`
}

type importKeyPairResponse struct {
	Meta
	KeyFingerprint string     `xml:"keyFingerprint"`
	KeyName        string     `xml:"keyName"`
	KeyPairID      string     `xml:"keyPairId"`
	Tags           *tagSetXML `xml:"tagSet"` // absent without tags, as EC2 answers
}

type keyPairItem struct {
	KeyPairID      string   `xml:"keyPairId"`
	KeyType        string   `xml:"keyType"`
	Tags           []tagXML `xml:"tagSet>item"`
	PublicKey      string   `xml:"publicKey,omitempty"`
	CreateTime     string   `xml:"createTime"`
	KeyName        string   `xml:"keyName"`
	KeyFingerprint string   `xml:"keyFingerprint"`
}

type describeKeyPairsResponse struct {
	Meta
	KeyPairs []keyPairItem `xml:"keySet>item"`
}

type deleteKeyPairResponse struct {
	Meta
	Return    bool   `xml:"return"`
	KeyPairID string `xml:"keyPairId,omitempty"`
}

// checkKeyName applies EC2's name rules and the admin's per-group prefix.
func (s *Service) checkKeyName(r *Request, name string) error {
	if len(name) > maxKeyNameLen {
		return ec2err.BadValue("KeyName", name, fmt.Sprintf("Key pair names are at most %d characters.", maxKeyNameLen))
	}
	for _, c := range name {
		if c < 0x20 || c > 0x7e {
			return ec2err.BadValue("KeyName", name, "Key pair names may contain only printable ASCII characters.")
		}
	}
	prefix := s.Config.KeyNamePrefix(r.User.Group, r.User.Name)
	if prefix != "" && !strings.HasPrefix(name, prefix) {
		return ec2err.New(ec2err.InvalidParameterValue,
			"Key pair name '%s' is not allowed: your administrator requires key pair names of group '%s' to start with '%s' (e.g. '%sdefault').",
			name, r.User.Group, prefix, prefix)
	}
	return nil
}

// newKey is a generated key pair: what the student gets once, and what is kept.
type newKey struct {
	material    string
	public      ssh.PublicKey
	fingerprint string
}

func (s *Service) createKeyPair(r *Request) (any, error) {
	name, err := r.Params.Required("KeyName")
	if err != nil {
		return nil, err
	}
	if err := s.checkKeyName(r, name); err != nil {
		return nil, err
	}
	keyType := strings.ToLower(r.Params.String("KeyType"))
	if keyType == "" {
		keyType = "rsa"
	}
	if _, ok := keyTypes[keyType]; !ok {
		return nil, ec2err.BadValue("KeyType", keyType, "Valid key types: rsa, ed25519.")
	}
	format := strings.ToLower(r.Params.String("KeyFormat"))
	if format == "" {
		format = "pem"
	}
	if format != "pem" && format != "ppk" {
		return nil, ec2err.BadValue("KeyFormat", format, "Valid key formats: pem, ppk.")
	}
	tags, err := tagSpecTags(r.Params, "key-pair")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	key, err := generateKey(keyType, format, name)
	if err != nil {
		return nil, err
	}
	rec, err := s.storeKeyPair(r, name, keyType, key.public, key.fingerprint, "", tags)
	if err != nil {
		return nil, err
	}
	return &createKeyPairResponse{
		KeyPairID: rec.ID, Tags: tagSetOf(tags), KeyName: name,
		KeyFingerprint: rec.Fingerprint, KeyMaterial: key.material,
	}, nil
}

func (s *Service) importKeyPair(r *Request) (any, error) {
	name, err := r.Params.Required("KeyName")
	if err != nil {
		return nil, err
	}
	if err := s.checkKeyName(r, name); err != nil {
		return nil, err
	}
	raw, err := r.Params.Required("PublicKeyMaterial")
	if err != nil {
		return nil, err
	}
	pub, imported, err := decodePublicKeyMaterial(raw)
	if err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "key-pair")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	keyType := "rsa"
	if pub.Type() == ssh.KeyAlgoED25519 {
		keyType = "ed25519"
	}
	rec, err := s.storeKeyPair(r, name, keyType, pub, importedFingerprint(pub), imported, tags)
	if err != nil {
		return nil, err
	}
	return &importKeyPairResponse{KeyFingerprint: rec.Fingerprint, KeyName: name, KeyPairID: rec.ID, Tags: tagSetOf(tags)}, nil
}

// storeKeyPair records a new key pair unless the student already has one
// of that name; imported is the RFC 4716 file to show back, if it was one.
func (s *Service) storeKeyPair(r *Request, name, keyType string, pub ssh.PublicKey, fingerprint, imported string, tags []store.Tag) (*store.KeyPair, error) {
	rec := &store.KeyPair{
		ID: store.NewID("key"), Owner: r.User.Name, Name: name, Type: keyType,
		PublicKey: authorizedKey(pub, name), Fingerprint: fingerprint, Created: s.now(), Imported: imported,
	}
	if s.Backend.KeyPairs != nil {
		rec.Pending, rec.Replica = store.KeyImporting, s.Replica
	}
	err := s.Store.Update(func(tx store.Tx) error {
		existing, err := store.KeyPairByName(tx, rec.Owner, name)
		if err != nil {
			return err
		}
		if existing != nil {
			return ec2err.New(ec2err.InvalidKeyPairDuplicate, "The keypair '%s' already exists.", name)
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{KeyPairs: 1}); err != nil {
			return err
		}
		if err := store.PutKeyPair(tx, rec); err != nil {
			return err
		}
		return putTags(tx, rec.Owner, rec.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return rec, s.keyInBackend(r.Context, rec)
}

// authorizedKey is the public key as one authorized_keys line, commented
// with the key pair's name.
func authorizedKey(pub ssh.PublicKey, name string) string {
	return pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal()) + " " + name
}

func (s *Service) describeKeyPairs(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	includePublic, err := r.Params.Bool("IncludePublicKey", false)
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, keyPairAttrs(&store.KeyPair{}, nil)); err != nil {
		return nil, err
	}
	names, ids := r.Params.List("KeyName"), r.Params.List("KeyPairId")
	resp := &describeKeyPairsResponse{}
	err = s.Store.View(func(tx store.Tx) error {
		keys, err := store.ListKeyPairs(tx, r.User.Name)
		if err != nil {
			return err
		}
		if err := checkKeysExist(keys, names, ids); err != nil {
			return err
		}
		resp.KeyPairs = nil
		for _, k := range keys {
			if len(names) > 0 && !contains(names, k.Name) || len(ids) > 0 && !contains(ids, k.ID) {
				continue
			}
			tags, err := store.Tags(tx, k.Owner, k.ID)
			if err != nil {
				return err
			}
			if !matchFilters(filters, keyPairAttrs(k, tags)) {
				continue
			}
			item := keyPairItem{
				KeyPairID: k.ID, KeyType: k.Type, Tags: tagsXML(tags), CreateTime: k.Created.UTC().Format(millisecondTime),
				KeyName: k.Name, KeyFingerprint: k.Fingerprint,
			}
			if includePublic {
				item.PublicKey = cmp.Or(k.Imported, k.PublicKey)
			}
			resp.KeyPairs = append(resp.KeyPairs, item)
		}
		return nil
	})
	return resp, err
}

// millisecondTime is how EC2 writes MillisecondDateTime values.
const millisecondTime = "2006-01-02T15:04:05.000Z"

// checkKeysExist: naming a key pair that does not exist is an error, not
// an empty answer.
func checkKeysExist(keys []*store.KeyPair, names, ids []string) error {
	for _, n := range names {
		if !slices.ContainsFunc(keys, func(k *store.KeyPair) bool { return k.Name == n }) {
			return ec2err.New(ec2err.InvalidKeyPairNotFound, "The key pair '%s' does not exist", n)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(keys, func(k *store.KeyPair) bool { return k.ID == id }) {
			return ec2err.New(ec2err.InvalidKeyPairNotFound, "The key pair ID '%s' does not exist", id)
		}
	}
	return nil
}

func keyPairAttrs(k *store.KeyPair, tags []store.Tag) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "key-name":
			return []string{k.Name}, true
		case "key-pair-id":
			return []string{k.ID}, true
		case "fingerprint":
			return []string{k.Fingerprint}, true
		case "key-type":
			return []string{k.Type}, true
		}
		return tagAttrs(tags, name)
	}
}

// deleteKeyPair is idempotent, as on EC2: deleting a key pair that does
// not exist (any more) succeeds.
func (s *Service) deleteKeyPair(r *Request) (any, error) {
	name, id := r.Params.String("KeyName"), r.Params.String("KeyPairId")
	if name == "" && id == "" {
		return nil, ec2err.Missing("KeyName")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &deleteKeyPairResponse{Return: true}
	var deleting *store.KeyPair
	err := s.Store.Update(func(tx store.Tx) error {
		resp.KeyPairID, deleting = "", nil
		k, err := findKeyPair(tx, r.User.Name, name, id)
		if err != nil || k == nil {
			return err
		}
		if !r.Before(DefaultVersion) {
			resp.KeyPairID = k.ID
		}
		if s.Backend.KeyPairs == nil {
			return store.DeleteKeyPair(tx, k.Owner, k.ID)
		}
		k.Pending, k.Replica, deleting = store.KeyDeleting, s.Replica, k
		return store.PutKeyPair(tx, k)
	})
	if err != nil || deleting == nil {
		return resp, err
	}
	return resp, s.keyInBackend(r.Context, deleting)
}

// findKeyPair looks a key pair up by id when one is given, else by name.
func findKeyPair(tx store.Tx, owner, name, id string) (*store.KeyPair, error) {
	if id != "" {
		return store.GetKeyPair(tx, owner, id)
	}
	return store.KeyPairByName(tx, owner, name)
}

// Key material.

// generateKey makes a new key pair and computes its fingerprint the way
// AWS does for keys it creates: RSA, the SHA-1 of the PKCS#8 DER private
// key as colon-separated hex; ed25519, the base64 SHA-256 of the public
// key blob (with padding, as AWS prints it).
func generateKey(keyType, format, name string) (*newKey, error) {
	switch keyType {
	case "rsa":
		priv, err := rsa.GenerateKey(rand.Reader, createdRSABits)
		if err != nil {
			return nil, err
		}
		return rsaKey(priv, format, name)
	default:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return ed25519Key(priv, format, name)
	}
}

func rsaKey(priv *rsa.PrivateKey, format, name string) (*newKey, error) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(pkcs8)
	key := &newKey{public: pub, fingerprint: colonHex(sum[:])}
	if format == "ppk" {
		key.material = ppk(pub, rsaPPKPrivate(priv), name)
	} else {
		key.material = pemText(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	}
	return key, nil
}

func ed25519Key(priv ed25519.PrivateKey, format, name string) (*newKey, error) {
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	key := &newKey{public: pub, fingerprint: sha256Fingerprint(pub)}
	if format == "ppk" {
		key.material = ppk(pub, ssh.Marshal(struct{ Seed []byte }{priv.Seed()}), name)
		return key, nil
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		return nil, err
	}
	key.material = pemText(block)
	return key, nil
}

// pemText is a PEM block without the final newline, as AWS returns it.
func pemText(b *pem.Block) string { return strings.TrimSuffix(string(pem.EncodeToMemory(b)), "\n") }

// importedFingerprint is AWS's fingerprint of an imported key: RSA, the MD5
// of the DER (PKIX SubjectPublicKeyInfo) public key as colon-separated
// hex; ed25519, the base64 SHA-256 of the public key blob.
func importedFingerprint(pub ssh.PublicKey) string {
	if pub.Type() == ssh.KeyAlgoED25519 {
		return sha256Fingerprint(pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub.(ssh.CryptoPublicKey).CryptoPublicKey())
	if err != nil {
		panic(err) // an RSA key parsed a moment ago always marshals
	}
	sum := md5.Sum(der)
	return colonHex(sum[:])
}

func sha256Fingerprint(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return base64.StdEncoding.EncodeToString(sum[:])
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ":")
}

// PuTTY private keys are written in PPK format version 2, unencrypted:
// every PuTTY since 0.52 (and WinSCP, FileZilla) reads it, and its MAC is
// fully specified: HMAC-SHA-1 keyed with SHA-1("putty-private-key-file-mac-key")
// over the SSH strings algorithm, encryption, comment, public blob and
// private blob.

const ppkMACKeySeed = "putty-private-key-file-mac-key"

func ppk(pub ssh.PublicKey, private []byte, comment string) string {
	public := pub.Marshal()
	macKey := sha1.Sum([]byte(ppkMACKeySeed))
	mac := hmac.New(sha1.New, macKey[:])
	mac.Write(ssh.Marshal(struct {
		Algorithm, Encryption, Comment string
		Public, Private                []byte
	}{pub.Type(), "none", comment, public, private}))
	var b strings.Builder
	fmt.Fprintf(&b, "PuTTY-User-Key-File-2: %s\nEncryption: none\nComment: %s\n", pub.Type(), comment)
	writePPKLines(&b, "Public-Lines", public)
	writePPKLines(&b, "Private-Lines", private)
	fmt.Fprintf(&b, "Private-MAC: %x\n", mac.Sum(nil))
	return b.String()
}

// writePPKLines writes a blob as PPK does: base64 in lines of 64 characters
// after a header giving their count.
func writePPKLines(b *strings.Builder, header string, blob []byte) {
	enc := base64.StdEncoding.EncodeToString(blob)
	lines := (len(enc) + 63) / 64
	fmt.Fprintf(b, "%s: %d\n", header, lines)
	for i := 0; i < len(enc); i += 64 {
		b.WriteString(enc[i:min(i+64, len(enc))])
		b.WriteByte('\n')
	}
}

// rsaPPKPrivate is PuTTY's RSA private blob: mpints d, p, q and q^-1 mod p.
func rsaPPKPrivate(k *rsa.PrivateKey) []byte {
	iqmp := new(big.Int).ModInverse(k.Primes[1], k.Primes[0])
	return ssh.Marshal(struct{ D, P, Q, Iqmp *big.Int }{k.D, k.Primes[0], k.Primes[1], iqmp})
}

// decodePublicKeyMaterial accepts what AWS's ImportKeyPair accepts: an
// OpenSSH public key line, an RFC 4716 (SSH2) public key file, a PEM
// public key (PKIX or PKCS#1 RSA), or base64 DER. The SDKs and CLIs send
// the file base64-encoded; a raw OpenSSH line sent by a hand-made request
// is accepted too. imported is the text of an RFC 4716 file, kept to be
// shown back as EC2 shows it; "" for the other formats.
func decodePublicKeyMaterial(raw string) (pub ssh.PublicKey, imported string, err error) {
	text := raw
	pub, err = parsePublicKeyText([]byte(raw))
	if err != nil {
		if decoded, derr := decodeBase64Loose(raw); derr == nil {
			text = string(decoded)
			pub, err = parsePublicKeyText(decoded)
		}
	}
	if err != nil {
		return nil, "", ec2err.New(ec2err.InvalidKeyFormat,
			"Key is not in valid OpenSSH public key format (%v). Import an RSA (1024-4096 bits) or ED25519 public key: an OpenSSH line such as 'ssh-ed25519 AAAA... comment', an RFC 4716 file, or PEM/DER.", err)
	}
	if err := checkImportable(pub); err != nil {
		return nil, "", err
	}
	if isRFC4716(text) && utf8.ValidString(text) {
		imported = text
	}
	return pub, imported, nil
}

func isRFC4716(text string) bool {
	return strings.HasPrefix(strings.TrimSpace(text), rfc4716Begin)
}

const rfc4716Begin = "---- BEGIN SSH2 PUBLIC KEY ----"

func decodeBase64Loose(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return b, err
}

func parsePublicKeyText(b []byte) (ssh.PublicKey, error) {
	text := strings.TrimSpace(string(b))
	switch {
	case isRFC4716(text):
		return parseRFC4716(text)
	case strings.HasPrefix(text, "-----BEGIN "):
		return parsePEMPublicKey([]byte(text))
	case strings.HasPrefix(text, "ssh-") || strings.HasPrefix(text, "ecdsa-"):
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(text))
		return pub, err
	}
	if k, err := x509.ParsePKIXPublicKey(b); err == nil {
		return ssh.NewPublicKey(k)
	}
	der, err := decodeBase64Loose(text)
	if err != nil {
		return nil, fmt.Errorf("not a recognised public key format")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a recognised public key format")
	}
	return ssh.NewPublicKey(k)
}

// parseRFC4716 reads "---- BEGIN SSH2 PUBLIC KEY ----" files: headers
// ("Comment: …", continued by a trailing backslash), then the base64 blob.
func parseRFC4716(text string) (ssh.PublicKey, error) {
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Scan() // the BEGIN line
	continued, ended := false, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "---- END SSH2 PUBLIC KEY ----":
			ended = true
		case continued || strings.Contains(line, ":"):
			continued = strings.HasSuffix(line, `\`)
		default:
			body.WriteString(line)
		}
		if ended {
			break
		}
	}
	if !ended {
		return nil, fmt.Errorf("RFC 4716 key without its END line")
	}
	blob, err := base64.StdEncoding.DecodeString(body.String())
	if err != nil {
		return nil, fmt.Errorf("RFC 4716 key body is not base64")
	}
	return ssh.ParsePublicKey(blob)
}

func parsePEMPublicKey(b []byte) (ssh.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("malformed PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(key)
}

// checkImportable keeps to the key types and sizes EC2 imports.
func checkImportable(pub ssh.PublicKey) error {
	switch pub.Type() {
	case ssh.KeyAlgoED25519:
		return nil
	case ssh.KeyAlgoRSA:
		bits := pub.(ssh.CryptoPublicKey).CryptoPublicKey().(*rsa.PublicKey).N.BitLen()
		if bits < minImportBits || bits > maxImportBits {
			return ec2err.New(ec2err.InvalidKeyFormat, "RSA keys of %d bits cannot be imported: use %d to %d bits.", bits, minImportBits, maxImportBits)
		}
		return nil
	}
	return ec2err.New(ec2err.InvalidKeyFormat, "Key type %s is not supported: import an RSA or ED25519 key.", pub.Type())
}

// Tags given at creation (TagSpecification.N), shared by the key pair and
// security group families.

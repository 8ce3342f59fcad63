package actions

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"golang.org/x/crypto/ssh"
)

// Test harness shared by the keypair and security group tests: a Service
// over a real bbolt store, and users to call it as.

type testEnv struct {
	svc   *Service
	users map[string]*store.User
}

func newTestEnv(t *testing.T, cfg *conf.Config) *testEnv {
	t.Helper()
	if cfg == nil {
		cfg = conf.Default()
	}
	clock := newManualClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	return &testEnv{svc: &Service{Config: cfg, Store: openTestStore(t), Clock: clock.Now}, users: testUsers()}
}

// call runs an action as the user with the current API version; kv are
// parameter name/value pairs.
func (e *testEnv) call(t testing.TB, user, action string, kv ...string) (any, error) {
	t.Helper()
	return e.callVersion(t, user, DefaultVersion, action, kv...)
}

func (e *testEnv) callVersion(t testing.TB, user, version, action string, kv ...string) (any, error) {
	t.Helper()
	r := newRequest(e.users[user], version, action, kv...)
	if _, bench := t.(*testing.B); bench {
		return runHandler(e.svc, r)
	}
	return callAction(e.svc, r)
}

func (e *testEnv) mustCall(t testing.TB, user, action string, kv ...string) any {
	t.Helper()
	resp, err := e.call(t, user, action, kv...)
	if err != nil {
		t.Fatalf("%s as %s: %v", action, user, err)
	}
	return resp
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !ec2err.Is(err, code) {
		t.Errorf("got error %v, want %s", err, code)
	}
}

// runTool runs an external tool (openssl, ssh-keygen) that computes the
// expected values independently of the code under test.
func runTool(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (apt-get install -y openssh-client openssl)", name)
		}
		t.Skipf("%s is missing (apt-get install -y openssh-client openssl)", name)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// afterEquals is the value openssl prints after "(stdin)= ".
func afterEquals(s string) string {
	_, v, _ := strings.Cut(strings.TrimSpace(s), "= ")
	return v
}

// sshKeygenSHA256 is ssh-keygen's SHA256 fingerprint of a key file, in
// AWS's form (padded base64 without the "SHA256:" label).
func sshKeygenSHA256(t *testing.T, path string) string {
	t.Helper()
	fields := strings.Fields(runTool(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", path))
	fp := strings.TrimPrefix(fields[1], "SHA256:")
	for len(fp)%4 != 0 {
		fp += "="
	}
	return fp
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCreatedKeyFingerprintsMatchOpenSSL(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ keyType, format string }{{"rsa", "pem"}, {"ed25519", "pem"}} {
		t.Run(c.keyType, func(t *testing.T) {
			key, err := generateKey(c.keyType, c.format, "k1")
			if err != nil {
				t.Fatal(err)
			}
			path := writeFile(t, dir, c.keyType+".pem", key.material+"\n")
			var want string
			if c.keyType == "rsa" {
				der := runTool(t, []byte(key.material+"\n"), "openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER")
				want = afterEquals(runTool(t, []byte(der), "openssl", "sha1", "-c"))
			} else {
				want = sshKeygenSHA256(t, path)
			}
			if key.fingerprint != want {
				t.Errorf("got fingerprint %s, want %s", key.fingerprint, want)
			}
			pub := strings.TrimSpace(runTool(t, nil, "ssh-keygen", "-y", "-f", path))
			if got := authorizedKey(key.public, "k1"); !strings.HasPrefix(got, pub) {
				t.Errorf("got public key %q, want ssh-keygen's %q", got, pub)
			}
		})
	}
}

func TestImportAcceptsAWSFormats(t *testing.T) {
	dir := t.TempDir()
	rsaPath := filepath.Join(dir, "rsa")
	edPath := filepath.Join(dir, "ed")
	runTool(t, nil, "ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "student@laptop", "-f", rsaPath)
	runTool(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "student@laptop", "-f", edPath)
	rsaLine := runTool(t, nil, "cat", rsaPath+".pub")
	pkcs8 := runTool(t, nil, "ssh-keygen", "-e", "-m", "PKCS8", "-f", rsaPath+".pub")
	der := runTool(t, []byte(pkcs8), "openssl", "pkey", "-pubin", "-outform", "DER")
	rsaWant := afterEquals(runTool(t, []byte(der), "openssl", "md5", "-c"))
	edWant := sshKeygenSHA256(t, edPath+".pub")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, material, want string
	}{
		{"rsa openssh line, base64 as SDKs send it", b64(rsaLine), rsaWant},
		{"rsa openssh line, raw", rsaLine, rsaWant},
		{"rsa rfc4716", b64(runTool(t, nil, "ssh-keygen", "-e", "-f", rsaPath+".pub")), rsaWant},
		{"rsa pkcs8 pem", b64(pkcs8), rsaWant},
		{"rsa pkcs1 pem", b64(runTool(t, nil, "ssh-keygen", "-e", "-m", "PEM", "-f", rsaPath+".pub")), rsaWant},
		{"rsa der", b64(der), rsaWant},
		{"rsa base64 der text", b64(b64(der)), rsaWant},
		{"ed25519 openssh line", b64(runTool(t, nil, "cat", edPath+".pub")), edWant},
		{"ed25519 rfc4716", b64(runTool(t, nil, "ssh-keygen", "-e", "-f", edPath+".pub")), edWant},
		{"rfc4716 with a continued comment", b64("---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"a long \\\ncomment\"\n" +
			strings.Fields(runTool(t, nil, "cat", edPath+".pub"))[1] + "\n---- END SSH2 PUBLIC KEY ----\n"), edWant},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pub, _, err := decodePublicKeyMaterial(c.material)
			if err != nil {
				t.Fatalf("got error %v, want the key", err)
			}
			if got := importedFingerprint(pub); got != c.want {
				t.Errorf("got fingerprint %s, want %s", got, c.want)
			}
		})
	}
}

func TestImportRejectsBadMaterial(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64Key := func(k any) string {
		pub, err := ssh.NewPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ssh.MarshalAuthorizedKey(pub))
	}
	short := &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 511), big.NewInt(1)), E: 65537}
	cases := []struct{ name, material, inMessage string }{
		{"garbage", base64.StdEncoding.EncodeToString([]byte("not a key at all")), "OpenSSH"},
		{"truncated line", base64.StdEncoding.EncodeToString([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAp7")), "OpenSSH"},
		{"private key by mistake", base64.StdEncoding.EncodeToString([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")), "OpenSSH"},
		{"ecdsa", b64Key(&ec.PublicKey), "not supported"},
		{"rsa too short", b64Key(short), "512 bits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := decodePublicKeyMaterial(c.material)
			wantCode(t, err, ec2err.InvalidKeyFormat)
			if err != nil && !strings.Contains(err.Error(), c.inMessage) {
				t.Errorf("got message %q, want it to mention %q", err, c.inMessage)
			}
		})
	}
}

// parsePPK reads a PPK v2 file back: its headers and its two blobs.
func parsePPK(t *testing.T, text string) (headers map[string]string, public, private []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	headers = map[string]string{}
	blob := func(i int, name string) ([]byte, int) {
		n, err := strconv.Atoi(headers[name])
		if err != nil {
			t.Fatalf("bad %s header %q", name, headers[name])
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(lines[i:i+n], ""))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, l := range lines[i : i+n] {
			if len(l) > 64 {
				t.Errorf("got a %d-character base64 line, want at most 64", len(l))
			}
		}
		return b, i + n
	}
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ": ")
		if !ok {
			t.Fatalf("line %d %q is not a header", i, lines[i])
		}
		headers[k] = v
		switch k {
		case "Public-Lines":
			public, i = blob(i+1, k)
			i--
		case "Private-Lines":
			private, i = blob(i+1, k)
			i--
		}
	}
	return headers, public, private
}

func TestPPKStructure(t *testing.T) {
	for _, keyType := range []string{"rsa", "ed25519"} {
		t.Run(keyType, func(t *testing.T) {
			key, err := generateKey(keyType, "ppk", "my key")
			if err != nil {
				t.Fatal(err)
			}
			headers, public, private := parsePPK(t, key.material)
			if !strings.HasPrefix(key.material, "PuTTY-User-Key-File-2: "+key.public.Type()+"\n") {
				t.Errorf("got first line %q, want the PPK v2 header", strings.SplitN(key.material, "\n", 2)[0])
			}
			if headers["Encryption"] != "none" || headers["Comment"] != "my key" {
				t.Errorf("got Encryption %q Comment %q, want none / my key", headers["Encryption"], headers["Comment"])
			}
			if !bytes.Equal(public, key.public.Marshal()) {
				t.Errorf("public blob is not the key's SSH wire form")
			}
			// The MAC, computed from PuTTY's documented definition.
			macKey := sha1.Sum([]byte("putty-private-key-file-mac-key"))
			mac := hmac.New(sha1.New, macKey[:])
			for _, field := range [][]byte{[]byte(key.public.Type()), []byte("none"), []byte("my key"), public, private} {
				var n [4]byte
				n[0], n[1], n[2], n[3] = byte(len(field)>>24), byte(len(field)>>16), byte(len(field)>>8), byte(len(field))
				mac.Write(n[:])
				mac.Write(field)
			}
			if want := hex.EncodeToString(mac.Sum(nil)); headers["Private-MAC"] != want {
				t.Errorf("got Private-MAC %s, want %s", headers["Private-MAC"], want)
			}
			checkPPKPrivate(t, keyType, key.public, private)
			checkWithPuTTYgen(t, key)
		})
	}
}

// checkWithPuTTYgen has PuTTY itself load the file (verifying its MAC) and
// convert it to OpenSSH. test.sh installs puttygen (putty-tools); in CI a
// missing one fails, elsewhere this oracle is skipped.
func checkWithPuTTYgen(t *testing.T, key *newKey) {
	t.Helper()
	if _, err := exec.LookPath("puttygen"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("puttygen is missing (apt-get install -y putty-tools); test.sh installs it")
		}
		return
	}
	dir := t.TempDir()
	ppkPath, converted := writeFile(t, dir, "key.ppk", key.material), filepath.Join(dir, "key")
	runTool(t, nil, "puttygen", ppkPath, "-O", "private-openssh", "-o", converted)
	got := strings.Fields(runTool(t, nil, "ssh-keygen", "-y", "-f", converted))
	if want := strings.Fields(authorizedKey(key.public, "")); got[0] != want[0] || got[1] != want[1] {
		t.Errorf("puttygen read back %s %s, want %s %s", got[0], got[1], want[0], want[1])
	}
}

// checkPPKPrivate proves the private blob holds the key's private half.
func checkPPKPrivate(t *testing.T, keyType string, pub ssh.PublicKey, private []byte) {
	t.Helper()
	crypto := pub.(ssh.CryptoPublicKey).CryptoPublicKey()
	if keyType == "ed25519" {
		var blob struct{ Seed []byte }
		if err := ssh.Unmarshal(private, &blob); err != nil {
			t.Fatal(err)
		}
		if got := ed25519.NewKeyFromSeed(blob.Seed).Public().(ed25519.PublicKey); !got.Equal(crypto) {
			t.Errorf("private seed does not derive the public key")
		}
		return
	}
	var blob struct{ D, P, Q, Iqmp *big.Int }
	if err := ssh.Unmarshal(private, &blob); err != nil {
		t.Fatal(err)
	}
	n := crypto.(*rsa.PublicKey).N
	if new(big.Int).Mul(blob.P, blob.Q).Cmp(n) != 0 {
		t.Errorf("p*q is not the modulus")
	}
	if new(big.Int).Mod(new(big.Int).Mul(blob.Iqmp, blob.Q), blob.P).Cmp(big.NewInt(1)) != 0 {
		t.Errorf("iqmp is not q^-1 mod p")
	}
}

func TestKeyPairLifecycleAndIsolation(t *testing.T) {
	e := newTestEnv(t, nil)
	created := e.mustCall(t, "alice", "CreateKeyPair", "KeyName", "default", "KeyType", "ed25519").(*createKeyPairResponse)
	if !store.ValidID("key", created.KeyPairID) || created.KeyMaterial == "" {
		t.Fatalf("got id %q and %d bytes of key material, want a key-… id and the private key", created.KeyPairID, len(created.KeyMaterial))
	}
	_, err := e.call(t, "alice", "CreateKeyPair", "KeyName", "default")
	wantCode(t, err, ec2err.InvalidKeyPairDuplicate)
	// Bob may own a key of the same name, and sees only his own.
	e.mustCall(t, "bob", "CreateKeyPair", "KeyName", "default")
	bobs := e.mustCall(t, "bob", "DescribeKeyPairs").(*describeKeyPairsResponse)
	if len(bobs.KeyPairs) != 1 || bobs.KeyPairs[0].KeyType != "rsa" {
		t.Errorf("got bob's keys %+v, want his one rsa key", bobs.KeyPairs)
	}
	_, err = e.call(t, "bob", "DescribeKeyPairs", "KeyPairId.1", created.KeyPairID)
	wantCode(t, err, ec2err.InvalidKeyPairNotFound)

	cases := []struct {
		name    string
		kv      []string
		want    int
		wantPub bool
	}{
		{"all", nil, 1, false},
		{"by name", []string{"KeyName.1", "default"}, 1, false},
		{"by id", []string{"KeyPairId.1", created.KeyPairID}, 1, false},
		{"key-type filter", []string{"Filter.1.Name", "key-type", "Filter.1.Value.1", "rsa"}, 0, false},
		{"fingerprint wildcard", []string{"Filter.1.Name", "fingerprint", "Filter.1.Value.1", created.KeyFingerprint[:5] + "*"}, 1, false},
		{"public key on request", []string{"IncludePublicKey", "true"}, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.mustCall(t, "alice", "DescribeKeyPairs", c.kv...).(*describeKeyPairsResponse)
			if len(resp.KeyPairs) != c.want {
				t.Fatalf("got %d keys, want %d", len(resp.KeyPairs), c.want)
			}
			if c.want == 1 && (resp.KeyPairs[0].PublicKey != "") != c.wantPub {
				t.Errorf("got publicKey %q, want present=%v", resp.KeyPairs[0].PublicKey, c.wantPub)
			}
		})
	}
	_, err = e.call(t, "alice", "DescribeKeyPairs", "Filter.1.Name", "colour", "Filter.1.Value.1", "x")
	wantCode(t, err, ec2err.InvalidParameterValue)

	// launchKey serves RunInstances.
	err = e.svc.Store.View(func(tx store.Tx) error {
		pub, err := e.svc.launchKey(tx, "alice", "default")
		if err != nil || !strings.HasPrefix(pub, "ssh-ed25519 ") {
			t.Errorf("got %q, %v; want alice's ed25519 public key", pub, err)
		}
		_, err = e.svc.launchKey(tx, "alice", "nope")
		wantCode(t, err, ec2err.InvalidKeyPairNotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Deleting is idempotent, by name or id, and touches only the caller's key.
	e.mustCall(t, "alice", "DeleteKeyPair", "KeyPairId", created.KeyPairID)
	e.mustCall(t, "alice", "DeleteKeyPair", "KeyName", "default")
	if left := e.mustCall(t, "alice", "DescribeKeyPairs").(*describeKeyPairsResponse); len(left.KeyPairs) != 0 {
		t.Errorf("got %d keys after delete, want 0", len(left.KeyPairs))
	}
	if left := e.mustCall(t, "bob", "DescribeKeyPairs").(*describeKeyPairsResponse); len(left.KeyPairs) != 1 {
		t.Errorf("got %d keys for bob, want his 1 untouched", len(left.KeyPairs))
	}
}

func TestKeyPairInputErrors(t *testing.T) {
	cfg := conf.Default()
	cfg.Groups = map[string]conf.Group{"students": {KeyNamePrefix: "{user}-"}}
	e := newTestEnv(t, cfg)
	cases := []struct {
		name, user, action string
		kv                 []string
		code               string
		inMessage          string
	}{
		{"no name", "alice", "CreateKeyPair", nil, ec2err.MissingParameter, "KeyName"},
		{"bad type", "alice", "CreateKeyPair", []string{"KeyName", "k", "KeyType", "dsa"}, ec2err.InvalidParameterValue, "rsa, ed25519"},
		{"bad format", "alice", "CreateKeyPair", []string{"KeyName", "k", "KeyFormat", "der"}, ec2err.InvalidParameterValue, "pem, ppk"},
		{"name too long", "alice", "CreateKeyPair", []string{"KeyName", strings.Repeat("k", 256)}, ec2err.InvalidParameterValue, "255"},
		{"group naming rule", "carol", "CreateKeyPair", []string{"KeyName", "default"}, ec2err.InvalidParameterValue, "start with 'carol-'"},
		{"naming rule on import", "carol", "ImportKeyPair", []string{"KeyName", "mine", "PublicKeyMaterial", "eA=="}, ec2err.InvalidParameterValue, "carol-"},
		{"wrong tag resource", "alice", "CreateKeyPair", []string{"KeyName", "k", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "a"}, ec2err.InvalidParameterValue, "'instance' is not a valid taggable resource type"},
		{"no material", "alice", "ImportKeyPair", []string{"KeyName", "k"}, ec2err.MissingParameter, "PublicKeyMaterial"},
		{"bad material", "alice", "ImportKeyPair", []string{"KeyName", "k", "PublicKeyMaterial", "eA=="}, ec2err.InvalidKeyFormat, "OpenSSH"},
		{"delete without name", "alice", "DeleteKeyPair", nil, ec2err.MissingParameter, "KeyName"},
		{"dry run", "alice", "CreateKeyPair", []string{"KeyName", "k", "DryRun", "true"}, ec2err.DryRunOperation, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, c.user, c.action, c.kv...)
			wantCode(t, err, c.code)
			if err != nil && !strings.Contains(err.Error(), c.inMessage) {
				t.Errorf("got message %q, want it to mention %q", err, c.inMessage)
			}
		})
	}
	if resp := e.mustCall(t, "carol", "CreateKeyPair", "KeyName", "carol-lab1", "KeyFormat", "ppk",
		"TagSpecification.1.ResourceType", "key-pair", "TagSpecification.1.Tag.1.Key", "course", "TagSpecification.1.Tag.1.Value", "cs61c").(*createKeyPairResponse); len(resp.Tags.list()) != 1 || !strings.HasPrefix(resp.KeyMaterial, "PuTTY-User-Key-File-2:") {
		t.Errorf("got tags %+v and material %.30q, want the tag and a PPK file", resp.Tags, resp.KeyMaterial)
	}
	if got := e.mustCall(t, "carol", "DescribeKeyPairs", "Filter.1.Name", "tag:course", "Filter.1.Value.1", "cs61c").(*describeKeyPairsResponse); len(got.KeyPairs) != 1 {
		t.Errorf("got %d keys tagged course=cs61c, want 1", len(got.KeyPairs))
	}
}

// An RFC 4716 file is shown back by DescribeKeyPairs exactly as imported
// (headers, wrapping, final newline), while launches get the OpenSSH line
// and the fingerprint is that of the same key sent as an OpenSSH line.
func TestImportedRFC4716ShownAsSent(t *testing.T) {
	e := newTestEnv(t, nil)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	blob := base64.StdEncoding.EncodeToString(pub.Marshal())
	var wrapped strings.Builder
	for i := 0; i < len(blob); i += 70 {
		wrapped.WriteString(blob[i:min(i+70, len(blob))] + "\n")
	}
	rfc := func(headers string) string {
		return "---- BEGIN SSH2 PUBLIC KEY ----\n" + headers + wrapped.String() + "---- END SSH2 PUBLIC KEY ----\n"
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	openssh := e.mustCall(t, "alice", "ImportKeyPair", "KeyName", "line", "PublicKeyMaterial", b64(line)).(*importKeyPairResponse)
	cases := []struct{ name, material string }{
		{"no headers", rfc("")},
		{"comment", rfc("Comment: student@laptop\n")},
		{"quoted comment and another header", rfc("Comment: \"2048-bit RSA, converted by me\"\nx-command: /bin/true\n")},
		{"continued comment", rfc("Comment: a comment that goes on \\\nto a second line\n")},
		{"subject, no final newline", strings.TrimSuffix(rfc("Subject: student\n"), "\n")},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "rfc" + strconv.Itoa(i)
			imported := e.mustCall(t, "alice", "ImportKeyPair", "KeyName", name, "PublicKeyMaterial", b64(c.material)).(*importKeyPairResponse)
			if imported.KeyFingerprint != openssh.KeyFingerprint {
				t.Errorf("got fingerprint %s, want %s (the key's as an OpenSSH line)", imported.KeyFingerprint, openssh.KeyFingerprint)
			}
			resp := e.mustCall(t, "alice", "DescribeKeyPairs", "KeyName.1", name, "IncludePublicKey", "true").(*describeKeyPairsResponse)
			if got := resp.KeyPairs[0].PublicKey; got != c.material {
				t.Errorf("got publicKey %q, want the file as imported %q", got, c.material)
			}
			err := e.svc.Store.View(func(tx store.Tx) error {
				got, err := e.svc.launchKey(tx, "alice", name)
				if want := line + " " + name; got != want {
					t.Errorf("got launch key %q, %v; want the authorized_keys line %q", got, err, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// A record written before the file was kept shows what it has.
	old := &store.KeyPair{ID: store.NewID("key"), Owner: "alice", Name: "old", Type: "rsa", PublicKey: line + " old", Fingerprint: openssh.KeyFingerprint}
	if err := e.svc.Store.Update(func(tx store.Tx) error { return store.PutKeyPair(tx, old) }); err != nil {
		t.Fatal(err)
	}
	resp := e.mustCall(t, "alice", "DescribeKeyPairs", "KeyName.1", "old", "IncludePublicKey", "true").(*describeKeyPairsResponse)
	if got := resp.KeyPairs[0].PublicKey; got != old.PublicKey {
		t.Errorf("got an older record's publicKey %q, want the stored line %q", got, old.PublicKey)
	}
}

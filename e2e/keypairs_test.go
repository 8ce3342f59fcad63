package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
)

// keyTool runs ssh-keygen or openssl: the independent oracle for key
// material and fingerprints.
func keyTool(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	econetest.Require(t, "/usr/bin/"+name, "apt-get install -y openssh-client openssl")
	cmd := exec.Command("/usr/bin/"+name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// opensslDigest is the colon hex openssl prints for `openssl md5|sha1 -c`.
func opensslDigest(t *testing.T, algo string, data []byte) string {
	t.Helper()
	out := strings.TrimSpace(keyTool(t, data, "openssl", algo, "-c"))
	_, digest, _ := strings.Cut(out, "= ")
	return digest
}

// sha256Fingerprint is ssh-keygen's SHA256 fingerprint of a key file in
// AWS's form: base64 with its padding, without the "SHA256:" label.
func sha256Fingerprint(t *testing.T, path string) string {
	t.Helper()
	fp := strings.TrimPrefix(strings.Fields(keyTool(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", path))[1], "SHA256:")
	return fp + strings.Repeat("=", (4-len(fp)%4)%4)
}

func TestCreateKeyPairWithAWSCLI(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	dir := t.TempDir()
	for _, keyType := range []string{"rsa", "ed25519"} {
		t.Run(keyType, func(t *testing.T) {
			t.Parallel()
			material, err := e.CLI(t, alice, "ec2", "create-key-pair", "--key-name", "lab-"+keyType, "--key-type", keyType,
				"--query", "KeyMaterial", "--output", "text")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, keyType+".pem")
			if err := os.WriteFile(path, []byte(material), 0o600); err != nil {
				t.Fatal(err)
			}
			public := strings.Fields(keyTool(t, nil, "ssh-keygen", "-y", "-f", path))
			want := sha256Fingerprint(t, path)
			if keyType == "rsa" {
				pkcs8 := keyTool(t, []byte(material), "openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER")
				want = opensslDigest(t, "sha1", []byte(pkcs8))
			}
			out, err := e.EC2(alice).DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{
				KeyNames: []string{"lab-" + keyType}, IncludePublicKey: aws.Bool(true),
			})
			if err != nil {
				t.Fatal(err)
			}
			kp := out.KeyPairs[0]
			if got := aws.ToString(kp.KeyFingerprint); got != want {
				t.Errorf("got fingerprint %s, want %s (computed from the private key by openssl/ssh-keygen)", got, want)
			}
			if string(kp.KeyType) != keyType || !strings.HasPrefix(aws.ToString(kp.PublicKey), public[0]+" "+public[1]) {
				t.Errorf("got type %s public key %q, want %s and ssh-keygen's %s %s", kp.KeyType, aws.ToString(kp.PublicKey), keyType, public[0], public[1])
			}
		})
	}
	ppk, err := e.CLI(t, alice, "ec2", "create-key-pair", "--key-name", "putty", "--key-format", "ppk", "--query", "KeyMaterial", "--output", "text")
	if err != nil || !strings.HasPrefix(ppk, "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: putty\n") {
		t.Errorf("got %.80q, %v; want an unencrypted PPK file", ppk, err)
	}
}

// The student's own keys, made by ssh-keygen, imported with boto3; the
// script also checks the errors a student can run into.
const boto3ImportScript = `
import boto3, botocore, json, os, sys
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
def material(name):
    with open(KEYDIR + "/" + name, "rb") as f:
        return f.read()
out = {}
for name in ["rsa.pub", "ed.pub", "ed.rfc4716"]:
    out[name] = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material(name))["KeyFingerprint"]
def code(fn):
    try:
        fn()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
out["duplicate"] = code(lambda: ec2.import_key_pair(KeyName="rsa.pub", PublicKeyMaterial=material("ed.pub")))
out["bad"] = code(lambda: ec2.import_key_pair(KeyName="bad", PublicKeyMaterial=b"this is not a key"))
out["missing"] = code(lambda: ec2.describe_key_pairs(KeyNames=["nope"]))
keys = ec2.describe_key_pairs(Filters=[{"Name": "key-type", "Values": ["ed25519"]}])["KeyPairs"]
out["ed25519 keys"] = sorted(k["KeyName"] for k in keys)
out["delete missing"] = code(lambda: ec2.delete_key_pair(KeyName="nope"))
out["ed.rfc4716 shown"] = ec2.describe_key_pairs(KeyNames=["ed.rfc4716"], IncludePublicKey=True)["KeyPairs"][0]["PublicKey"]
# EC2 leaves the tag set out of an answer for a key pair without tags,
# and gives the tags of one made with them.
out["import answer has Tags"] = "Tags" in ec2.import_key_pair(KeyName="untagged", PublicKeyMaterial=material("rsa.pub"))
out["create answer has Tags"] = "Tags" in ec2.create_key_pair(KeyName="made")
out["tagged create answer's Tags"] = ec2.create_key_pair(KeyName="tagged", TagSpecifications=[
    {"ResourceType": "key-pair", "Tags": [{"Key": "course", "Value": "cs61c"}]}]).get("Tags")
print(json.dumps(out))
`

func TestImportSSHKeygenKeysWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	dir := t.TempDir()
	keyTool(t, nil, "ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "", "-C", "student@laptop", "-f", filepath.Join(dir, "rsa"))
	keyTool(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "student@laptop", "-f", filepath.Join(dir, "ed"))
	rfc4716 := keyTool(t, nil, "ssh-keygen", "-e", "-f", filepath.Join(dir, "ed.pub"))
	if err := os.WriteFile(filepath.Join(dir, "ed.rfc4716"), []byte(rfc4716), 0o600); err != nil {
		t.Fatal(err)
	}
	pkcs8 := keyTool(t, nil, "ssh-keygen", "-e", "-m", "PKCS8", "-f", filepath.Join(dir, "rsa.pub"))
	der := keyTool(t, []byte(pkcs8), "openssl", "pkey", "-pubin", "-outform", "DER")
	rsaWant := opensslDigest(t, "md5", []byte(der))
	edWant := sha256Fingerprint(t, filepath.Join(dir, "ed.pub"))

	raw, err := e.Boto3(t, alice, "KEYDIR = "+strconv.Quote(dir)+"\n"+boto3ImportScript)
	var got map[string]any
	decodeOutput(t, raw, err, &got)
	want := map[string]any{
		"rsa.pub": rsaWant, "ed.pub": edWant, "ed.rfc4716": edWant,
		"duplicate": "InvalidKeyPair.Duplicate", "bad": "InvalidKey.Format", "missing": "InvalidKeyPair.NotFound",
		"ed25519 keys": []any{"ed.pub", "ed.rfc4716"}, "delete missing": "ok",
		"ed.rfc4716 shown":       rfc4716, // as imported, as EC2 shows it
		"import answer has Tags": false, "create answer has Tags": false,
		"tagged create answer's Tags": []any{map[string]any{"Key": "course", "Value": "cs61c"}},
	}
	for k, w := range want {
		if jsonOf(got[k]) != jsonOf(w) {
			t.Errorf("%s: got %v, want %v", k, got[k], w)
		}
	}
}

func TestKeyPairIsolation(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	keyPairIsolation(t, e, alice)
}

// keyPairIsolation: bob, on e with alice, cannot see or delete her key of
// the name he also uses.
func keyPairIsolation(t *testing.T, e *econetest.Env, alice *admin.Credentials) {
	bob := e.User(t, "bob")
	ctx := context.Background()
	mine, err := e.EC2(alice).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.EC2(bob).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("default")}); err != nil {
		t.Fatalf("bob's key of the same name: %v", err)
	}
	_, err = e.EC2(bob).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{*mine.KeyPairId}})
	if code, status := apiError(err); code != "InvalidKeyPair.NotFound" || status != 400 {
		t.Errorf("bob describing alice's key: got %s/%d, want InvalidKeyPair.NotFound/400", code, status)
	}
	if _, err := e.EC2(bob).DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: mine.KeyPairId}); err != nil {
		t.Errorf("bob deleting alice's key id: got %v, want the idempotent success of a missing key", err)
	}
	left, err := e.EC2(alice).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil || len(left.KeyPairs) != 1 || *left.KeyPairs[0].KeyPairId != *mine.KeyPairId {
		t.Errorf("got %v, %v; want alice's key untouched", left, err)
	}
}

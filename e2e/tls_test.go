package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/econetest"
)

// selfSignedCert writes a certificate and key for 127.0.0.1 into dir.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "econe-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestNativeTLS: with tls.cert and tls.key the server speaks HTTPS only,
// and the SDK (trusting the certificate) gets answers through it.
func TestNativeTLS(t *testing.T) {
	bin := buildServerBinary(t)
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	d := newServerProcess(t, bin, fmt.Sprintf("tls:\n  cert: %s\n  key: %s\n", certFile, keyFile))
	d.must(t, "start")
	c := cliAddUser(t, d, "tls", "")
	https := "https://127.0.0.1:" + strconv.Itoa(d.port)
	client := ec2.New(ec2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(https), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	out, err := client.DescribeRegions(econetest.Context(t), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatalf("DescribeRegions over HTTPS: %v", err)
	}
	if len(out.Regions) != 1 || aws.ToString(out.Regions[0].RegionName) != "us-east-1" {
		t.Errorf("got regions %+v, want us-east-1", out.Regions)
	}
	resp, err := http.Get(d.url())
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP to the TLS port: got %d, want a refusal", resp.StatusCode)
		}
	}
}

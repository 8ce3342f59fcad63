package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// A group's keys stop working after its term_end, through the SDK and
// boto3, with a message saying so; the data stays, and comes back when an
// instructor extends the term.
func TestTermEndWithSDKAndBoto3(t *testing.T) {
	day := func(d time.Duration) string { return time.Now().UTC().Add(d).Format("2006-01-02") }
	setTerm := func(c *conf.Config, end string) {
		c.Groups = map[string]conf.Group{"cs61c": {TermEnd: end}}
	}
	e, alice := start(t, func(c *conf.Config) { setTerm(c, day(48*time.Hour)) })
	bob, err := e.App.Users.Add("bob", "cs61c")
	if err != nil {
		t.Fatal(err)
	}
	ctx := econetest.Context(t)
	if _, err := e.EC2(bob).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("lab1")}); err != nil {
		t.Fatalf("CreateKeyPair during the term: %v", err)
	}
	e.Stop()

	ended := day(-48 * time.Hour)
	cfg := *e.Config
	setTerm(&cfg, ended)
	e2 := econetest.StartConfig(t, &cfg)
	wantMsg := "The term of your course (group cs61c) has ended: its last day was " + ended

	_, err = e2.EC2(bob).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	var ae smithy.APIError
	if code, status := apiError(err); code != "AuthFailure" || status != 401 || !errors.As(err, &ae) || !strings.Contains(ae.ErrorMessage(), wantMsg) {
		t.Errorf("SDK after the term: got %v, want AuthFailure 401 saying %q", err, wantMsg)
	}
	if _, err := e2.EC2(alice).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{}); err != nil {
		t.Errorf("SDK for a student in no group: got %v, want success", err)
	}

	got := boto3Error(t, e2, bob, "", "describe_key_pairs")
	if got.Code != "AuthFailure" || got.Status != 401 || !strings.Contains(got.Message, wantMsg) {
		t.Errorf("boto3 after the term: got %+v, want AuthFailure 401 saying %q", got, wantMsg)
	}

	// Admin commands still work on the student.
	if info, err := e2.App.Users.Show("bob"); err != nil || info.Group != "cs61c" {
		t.Errorf("user show after the term: got %+v, %v, want bob of cs61c", info, err)
	}
	e2.Stop()

	cfg3 := cfg
	setTerm(&cfg3, day(48*time.Hour))
	e3 := econetest.StartConfig(t, &cfg3)
	kp, err := e3.EC2(bob).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil || len(kp.KeyPairs) != 1 || aws.ToString(kp.KeyPairs[0].KeyName) != "lab1" {
		t.Errorf("after the term is extended: got %+v, %v, want the key pair lab1 kept", kp, err)
	}
}

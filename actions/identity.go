package actions

import (
	"crypto/sha256"
	"encoding/base32"
	"regexp"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// The identity actions of STS (2011-06-15) and IAM (2010-05-08), served at
// the same endpoint because tools ask who they are before anything else
// (`aws sts get-caller-identity`, Ansible's ec2_security_group, Terraform).
// The only identity a student can see is their own; nothing else of STS or
// IAM exists here. Their responses are the bare Result shapes: the server
// wraps them in the query protocol's envelope.

var stsActions = map[string]Handler{
	"GetCallerIdentity": (*Service).getCallerIdentity,
}

var iamActions = map[string]Handler{
	"GetUser": (*Service).getUser,
}

// callerIdentity is STS's GetCallerIdentityResult (botocore's member order).
type callerIdentity struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// getUserResult is IAM's GetUserResult.
type getUserResult struct {
	User iamUser `xml:"User"`
}

// iamUser is IAM's User shape, without what has no meaning here (password
// use, permissions boundary, tags).
type iamUser struct {
	Path       string `xml:"Path"`
	UserName   string `xml:"UserName"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

func (s *Service) getCallerIdentity(r *Request) (any, error) {
	return &callerIdentity{UserID: iamUserID(r.User), Account: r.User.AccountID, Arn: iamUserArn(r.User)}, nil
}

// iamNameRE is IAM's pattern for an existing user's name (1 to 128 of
// these characters).
var iamNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)

// getUser answers for the caller only: any other name is a user that does
// not exist, as IAM says of one, whether or not a classmate has it.
func (s *Service) getUser(r *Request) (any, error) {
	if r.Params.Has("UserName") {
		name := r.Params.String("UserName")
		if !iamNameRE.MatchString(name) {
			return nil, ec2err.New(ec2err.ValidationError, "1 validation error detected: Value '%s' at 'userName' failed to satisfy constraint: Member must be 1 to 128 characters from [\\w+=,.@-].", name)
		}
		// IAM user names are unique without regard to case.
		if !strings.EqualFold(name, r.User.Name) {
			return nil, ec2err.New(ec2err.NoSuchEntity, "The user with name %s cannot be found.", name)
		}
	}
	u := r.User
	return &getUserResult{User: iamUser{
		Path: "/", UserName: u.Name, UserID: iamUserID(u), Arn: iamUserArn(u),
		CreateDate: u.Created.UTC().Format("2006-01-02T15:04:05Z"),
	}}, nil
}

func iamUserArn(u *store.User) string { return "arn:aws:iam::" + u.AccountID + ":user/" + u.Name }

// iamUserID is the user's unique id in IAM's form (AIDA and 17 letters and
// digits), derived from what never changes for the user: their account and
// name. It survives key rotation; a user deleted and added again gets a new
// account, so a new id, as IAM gives a re-created user.
func iamUserID(u *store.User) string {
	sum := sha256.Sum256([]byte("econe iam user id\x00" + u.AccountID + "\x00" + u.Name))
	return "AIDA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

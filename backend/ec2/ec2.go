// Package ec2 is the backend that forwards to real EC2 (or an
// EC2-compatible cloud) with the course's AWS account, through
// aws-sdk-go-v2. Students keep econe's ids: an AWS id is the backend id
// (Machine.ID for instances; for volumes, snapshots, groups and key pairs
// a mapping kept in the backend's store space). Every resource made for a
// student is tagged econe:id, econe:owner, econe:group and econe:course,
// and the names that are global in an account (key pairs, security
// groups) are PREFIX-USER-NAME.
package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// The abilities the ec2 backend has.
var (
	_ backend.Backend        = (*EC2)(nil)
	_ backend.LaunchFinder   = (*EC2)(nil)
	_ backend.Volumes        = (*EC2)(nil)
	_ backend.KeyPairs       = (*EC2)(nil)
	_ backend.SecurityGroups = (*EC2)(nil)
)

// The tags on every resource made for a student.
const (
	TagID     = "econe:id"
	TagOwner  = "econe:owner"
	TagGroup  = "econe:group"
	TagCourse = "econe:course"
)

// EC2 is the backend.
type EC2 struct {
	api   *ec2.Client
	cfg   conf.EC2Backend
	zones []string // the configured availability zones
	vpcID string   // subnet_id's VPC, where groups are made ("" = default VPC)
	st    *store.Space
	clock func() time.Time
	// userGroup names a student's group for the econe:group tag.
	userGroup func(string) string
	log       zerolog.Logger

	mu    sync.Mutex
	cache map[string]cached // AWS instance id -> last state read
	// ids maps econe's ids (vol-, snap-, sg-, key-) to AWS's and back, for
	// calls and for error messages (which must quote econe's ids only).
	ids   map[string]string
	awsID map[string]string

	// network is every student's default VPC: the course's (findNetwork).
	network backend.DefaultNetwork
}

type cached struct {
	m  backend.Machine
	at time.Time
}

// New builds the backend from deps and checks, once, that AWS answers
// with these credentials in this region.
func New(deps backend.Deps) (backend.Backend, error) { return Open(deps) }

// Open is New with the concrete type.
func Open(deps backend.Deps) (*EC2, error) {
	if deps.Store == nil || deps.Config == nil {
		return nil, fmt.Errorf("ec2: a store and a configuration are required")
	}
	clock := deps.Clock
	if clock == nil {
		clock = time.Now
	}
	c := deps.Config.Backend.EC2
	userGroup := deps.UserGroup
	if userGroup == nil {
		userGroup = func(string) string { return "" }
	}
	b := &EC2{cfg: c, zones: deps.Config.AvailabilityZones, st: deps.Store, clock: clock, log: deps.Log, userGroup: userGroup,
		cache: map[string]cached{}, ids: map[string]string{}, awsID: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := client(ctx, c)
	if err != nil {
		return nil, err
	}
	b.api = api
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if err := b.loadIDs(); err != nil {
		return nil, err
	}
	b.log.Info().Str("region", c.Region).Str("endpoint", c.Endpoint).Msg("EC2 answered with these credentials")
	return b, nil
}

// client is the SDK's EC2 client for c: its credentials, its endpoint,
// the SDK's standard retryer, and every attempt through one token bucket.
func client(ctx context.Context, c conf.EC2Backend) (*ec2.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(c.Region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = c.MaxAttempts })
		}),
	}
	switch cr := c.Credentials; {
	case cr.AccessKeyID != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, "")))
	case cr.Profile != "":
		opts = append(opts, config.WithSharedConfigProfile(cr.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ec2: loading AWS credentials (backend.ec2.credentials): %w", err)
	}
	limiter := rate.NewLimiter(rate.Limit(c.RateLimit), c.RateBurst)
	return ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			// After the retry middleware: each attempt takes a token.
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("econeRateLimit",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if err := limiter.Wait(ctx); err != nil {
						return middleware.FinalizeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}), nil
}

// check asks AWS once for the region and its zones, so that wrong
// credentials, a wrong region or an unknown zone stop the start-up with a
// message saying which key to fix.
func (b *EC2) check(ctx context.Context) error {
	where := "region " + b.cfg.Region
	if b.cfg.Endpoint != "" {
		where += " at " + b.cfg.Endpoint
	}
	if _, err := b.api.DescribeRegions(ctx, &ec2.DescribeRegionsInput{RegionNames: []string{b.cfg.Region}}); err != nil {
		return fmt.Errorf("ec2: AWS refused DescribeRegions in %s (check backend.ec2.credentials and backend.ec2.region): %w", where, err)
	}
	out, err := b.api.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		return fmt.Errorf("ec2: AWS refused DescribeAvailabilityZones in %s (check backend.ec2.credentials): %w", where, err)
	}
	var have []string
	for _, z := range out.AvailabilityZones {
		have = append(have, aws.ToString(z.ZoneName))
	}
	for _, z := range b.zones {
		if !slices.Contains(have, z) {
			return fmt.Errorf("ec2: availability zone %s (availability_zones) is not one of %s: %v", z, where, have)
		}
	}
	if b.cfg.SubnetID != "" {
		out, err := b.api.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{b.cfg.SubnetID}})
		if err != nil || len(out.Subnets) == 0 {
			return fmt.Errorf("ec2: backend.ec2.subnet_id %s is not a subnet of %s: %v", b.cfg.SubnetID, where, err)
		}
		b.vpcID = aws.ToString(out.Subnets[0].VpcId)
	}
	return b.findNetwork(ctx)
}

func (b *EC2) now() time.Time { return b.clock().UTC() }

// Close releases nothing: the SDK holds no resources that need it.
func (b *EC2) Close() error { return nil }

// awsError is err as econe-server shows it: AWS's refusals keep their code
// (throttling and capacity in EC2's words for them), with AWS's ids in the
// message replaced by econe's; anything else (network, context) is an
// internal error.
func (b *EC2) awsError(op string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("ec2: %s: %w", op, err)
	}
	code := ae.ErrorCode()
	switch {
	case code == "Throttling" || code == "ThrottlingException" || code == ec2err.RequestLimitExceeded:
		return backend.ErrThrottled
	case strings.HasPrefix(code, "Insufficient") && strings.HasSuffix(code, "Capacity"):
		return &backend.Error{Code: ec2err.InsufficientInstanceCapacity, Message: b.ownIDs(ae.ErrorMessage())}
	}
	return &backend.Error{Code: code, Message: b.ownIDs(ae.ErrorMessage())}
}

var errNoInstance = errors.New("AWS answered without an instance")

// code is err's AWS error code, "" for another error.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// awsIDs are the AWS ids a message may name, instances aside: AWS
// instance ids are the machines' ids, which actions rewrite to the
// student's instance ids (and hide when they are not the student's).
var awsIDs = regexp.MustCompile(`\b(?:vol|snap|sg|sgr|key|eipalloc|eipassoc|ami|subnet|vpc|eni|igw|rtb|acl|pl)-[0-9a-f]{8,17}\b`)

// ownIDs replaces the AWS ids and names this backend made in msg with
// econe's ids, and hides every other AWS id: one this backend did not
// make for a student is none of a student's business.
func (b *EC2) ownIDs(msg string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	msg = awsIDs.ReplaceAllStringFunc(msg, func(aid string) string {
		if id, ok := b.awsID[aid]; ok {
			return id
		}
		return "(unknown)"
	})
	for aid, id := range b.awsID {
		if !awsIDs.MatchString(aid) { // a name: PREFIX-USER-NAME
			msg = strings.ReplaceAll(msg, aid, id)
		}
	}
	return msg
}

// tags are the tags of a resource made for owner ("" when the call does
// not say) with econe id id ("" when not yet known).
func (b *EC2) tags(id, owner string) []types.Tag {
	t := []types.Tag{{Key: aws.String(TagCourse), Value: aws.String(b.cfg.Course)}}
	if owner != "" {
		t = append(t, types.Tag{Key: aws.String(TagOwner), Value: aws.String(owner)},
			types.Tag{Key: aws.String(TagGroup), Value: aws.String(b.userGroup(owner))})
	}
	if id != "" {
		t = append(t, types.Tag{Key: aws.String(TagID), Value: aws.String(id)})
	}
	return t
}

func (b *EC2) tagSpec(rt types.ResourceType, id, owner string) types.TagSpecification {
	return types.TagSpecification{ResourceType: rt, Tags: b.tags(id, owner)}
}

// name is an account-global name for a student's resource.
func (b *EC2) name(owner, name string) string {
	return b.cfg.NamePrefix + "-" + owner + "-" + name
}

// token is an idempotency token namespaced per course and student: a
// retry of one student's launch never matches another's.
func (b *EC2) token(owner, id string) *string {
	h := sha256.Sum256([]byte(b.cfg.Course + "\x00" + owner + "\x00" + id))
	return aws.String(hex.EncodeToString(h[:]))
}

// byTag is the filter for resources of this course with econe id id.
func (b *EC2) byTag(id string) []types.Filter {
	return []types.Filter{
		{Name: aws.String("tag:" + TagID), Values: []string{id}},
		{Name: aws.String("tag:" + TagCourse), Values: []string{b.cfg.Course}},
	}
}

// The id mappings live in the space under "id/<econe id>".
const idPrefix = "id/"

func (b *EC2) loadIDs() error {
	return b.st.View(func(tx store.SpaceTx) error {
		return tx.Scan(idPrefix, func(key string, v []byte) error {
			b.remember(strings.TrimPrefix(key, idPrefix), string(v))
			return nil
		})
	})
}

func (b *EC2) remember(id, aid string) {
	b.mu.Lock()
	b.ids[id], b.awsID[aid] = aid, id
	b.mu.Unlock()
}

// mapped is AWS's id (or name) for econe's id, "" when unknown.
func (b *EC2) mapped(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[id]
}

// setID records that econe's id is AWS's aid.
func (b *EC2) setID(id, aid string) error {
	if err := b.st.Update(func(tx store.SpaceTx) error { return tx.Put(idPrefix+id, []byte(aid)) }); err != nil {
		return err
	}
	b.remember(id, aid)
	return nil
}

// forgetID drops econe's id once AWS's resource is gone.
func (b *EC2) forgetID(id string) error {
	if err := b.st.Update(func(tx store.SpaceTx) error { return tx.Delete(idPrefix + id) }); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.awsID, b.ids[id])
	delete(b.ids, id)
	b.mu.Unlock()
	return nil
}

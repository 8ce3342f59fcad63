package store

// Every bucket is declared here, once. The tree:
//
//	meta            "schema_version" -> "7", "ready_probe" -> time of the last readiness probe
//	users           NAME -> User
//	access_keys     ACCESS_KEY_ID -> NAME
//	instances       OWNER/i-… -> Instance
//	launch_intents  OWNER/i-… -> "" (an instance recorded before its
//	                backend's answer: what start-up recovery reads)
//	idempotency     OWNER/ACTION/CLIENT_TOKEN -> Idempotency
//	                (OWNER/RunInstances/TOKEN -> "expired": its instance was purged)
//	tags            OWNER/RESOURCE_ID/KEY -> value
//	keypairs        OWNER/key-… -> KeyPair
//	security_groups OWNER/sg-… -> SecurityGroup
//	security_group_names OWNER/NAME -> sg-… (the name index)
//	volumes         OWNER/vol-… -> Volume
//	volume_attachments OWNER/i-…/vol-… -> "" (the volumes whose record
//	                names the instance: what a describe by id reads)
//	volume_intents  OWNER/vol-… -> "" (a volume created or deleted before
//	                its backend's answer: what start-up recovery reads)
//	snapshots       OWNER/snap-… -> Snapshot
//	shares          ACCOUNT/RESOURCE_ID -> OWNER (what an owner shares with
//	                that account: a snapshot's createVolumePermission, an
//	                image's launchPermission; what the classmate's describe reads)
//	volume_mods     OWNER/vol-… -> VolumeModification (the latest)
//	launch_templates OWNER/lt-… -> LaunchTemplate
//	launch_template_versions OWNER/lt-…/VERSION -> LaunchTemplateVersion
//	                (VERSION: 20 digits, so the versions scan in order)
//	images          OWNER/ami-… -> Image (a student's own, from CreateImage)
//	prefix_lists    OWNER/pl-… -> PrefixList (customer-managed prefix lists)
//	vpcs            OWNER/vpc-… -> VPC
//	subnets         OWNER/subnet-… -> Subnet
//	internet_gateways OWNER/igw-… -> InternetGateway
//	route_tables    OWNER/rtb-… -> RouteTable
//	network_interfaces OWNER/eni-… -> NetworkInterface (a student's own;
//	                an instance's primary interface is derived, not stored)
//	interface_attachments OWNER/i-…/eni-… -> "" (the interfaces attached
//	                to an instance)
//	addresses       OWNER/eipalloc-… -> Address
//	address_pool    PUBLIC_IP -> OWNER/eipalloc-… ("" when free)
//	address_intents eipalloc-… -> AddressIntent (an association script in flight)
//	                launch/PUBLIC_IP -> AddressIntent (a launch address's)
//	launch_addresses PUBLIC_IP -> LaunchAddress (a launch address held by an
//	                instance, or by its disassociation still owed; absent = free)
//	backends        NAME/… any key the backend NAME chooses (its Space)
//	backend_sim     retired in version 3 (Migrate moves it to backends sim/…)
//	counters        OWNER -> Counters (what the owner holds now)
//	usage_intervals OWNER/START/i-… -> usage.Interval (START: 20-digit
//	                Unix nanoseconds, so a user's time range is a key range)
//	usage_open      OWNER/i-… -> key of the instance's open interval
//	usage_closed    OWNER -> the cost of the owner's closed intervals (usage)
//	quotas          user/NAME -> quota.Limits (a student's override)
//	                group/NAME -> quota.Limits (a group's override)
//	guardrails      KIND/SUBJECT/STAMP -> guard.Action (each guardrail
//	                action, recorded before it is carried out)
//	                sweep/last -> the time the last sweep planned up to
//	replicas        REPLICA_ID -> Replica (each server's heartbeat)
//
// Owned resources are keyed by owner first so that a student's describe is
// a prefix scan of their own records (see OwnedKey).

// Bucket names a bucket.
type Bucket string

const (
	BucketMeta                Bucket = "meta"
	BucketUsers               Bucket = "users"
	BucketAccessKeys          Bucket = "access_keys"
	BucketInstances           Bucket = "instances"
	BucketLaunchIntents       Bucket = "launch_intents"
	BucketIdempotency         Bucket = "idempotency"
	BucketTags                Bucket = "tags"
	BucketKeyPairs            Bucket = "keypairs"
	BucketSecurityGroups      Bucket = "security_groups"
	BucketSecurityGroupNames  Bucket = "security_group_names"
	BucketVolumes             Bucket = "volumes"
	BucketVolumeAttachments   Bucket = "volume_attachments"
	BucketVolumeIntents       Bucket = "volume_intents"
	BucketSnapshots           Bucket = "snapshots"
	BucketVolumeModifications Bucket = "volume_mods"
	BucketImages              Bucket = "images"
	BucketAddresses           Bucket = "addresses"
	BucketVPCs                Bucket = "vpcs"
	BucketSubnets             Bucket = "subnets"
	BucketInternetGateways    Bucket = "internet_gateways"
	BucketRouteTables         Bucket = "route_tables"
	BucketAddressPool         Bucket = "address_pool"
	BucketAddressIntents      Bucket = "address_intents"
	BucketBackends            Bucket = "backends"
	BucketCounters            Bucket = "counters"
	BucketUsageIntervals      Bucket = "usage_intervals"
	BucketUsageOpen           Bucket = "usage_open"
	BucketUsageClosed         Bucket = "usage_closed"
	BucketQuotas              Bucket = "quotas"
	BucketGuardrails          Bucket = "guardrails"
	BucketReplicas            Bucket = "replicas"
	BucketShares              Bucket = "shares"
)

// The launch templates' buckets (store/launch_templates.go).
const (
	BucketLaunchTemplates        Bucket = "launch_templates"
	BucketLaunchTemplateVersions Bucket = "launch_template_versions"
)

// BucketPrefixLists holds the managed prefix lists (store/prefix_lists.go).
const BucketPrefixLists Bucket = "prefix_lists"

// The network interfaces' buckets (store/network_interfaces.go).
const (
	BucketNetworkInterfaces    Bucket = "network_interfaces"
	BucketInterfaceAttachments Bucket = "interface_attachments"
)

// BucketLaunchAddresses holds the launch addresses taken (store/launch_addresses.go).
const BucketLaunchAddresses Bucket = "launch_addresses"

// bucketRetiredBackendSim is version 2's bucket of the sim, still created
// so that Migrate can read it.
const bucketRetiredBackendSim Bucket = "backend_sim"

// Buckets lists every bucket; Open creates the missing ones.
var Buckets = []Bucket{
	BucketMeta, BucketUsers, BucketAccessKeys, BucketInstances, BucketLaunchIntents, BucketIdempotency,
	BucketTags, BucketKeyPairs, BucketSecurityGroups, BucketSecurityGroupNames, BucketVolumes, BucketVolumeAttachments, BucketVolumeIntents, BucketSnapshots, BucketVolumeModifications,
	BucketAddresses, BucketAddressPool, BucketAddressIntents, BucketBackends, bucketRetiredBackendSim,
	BucketCounters, BucketUsageIntervals, BucketUsageOpen, BucketUsageClosed,
	BucketQuotas,
	BucketGuardrails,
	BucketReplicas,
	BucketLaunchTemplates, BucketLaunchTemplateVersions,
	BucketShares,
	BucketImages,
	BucketVPCs, BucketSubnets, BucketInternetGateways, BucketRouteTables,
	BucketPrefixLists,
	BucketNetworkInterfaces, BucketInterfaceAttachments,
	BucketLaunchAddresses,
}

// OwnerBuckets are the buckets keyed OWNER/…: everything a user owns.
var OwnerBuckets = []Bucket{
	BucketInstances, BucketIdempotency, BucketTags, BucketKeyPairs, BucketSecurityGroups,
	BucketSecurityGroupNames, BucketVolumes, BucketVolumeAttachments, BucketVolumeIntents, BucketSnapshots, BucketVolumeModifications, BucketAddresses,
	BucketLaunchIntents,
	BucketLaunchTemplates, BucketLaunchTemplateVersions,
	BucketImages,
	BucketVPCs, BucketSubnets, BucketInternetGateways, BucketRouteTables,
	BucketPrefixLists,
	BucketNetworkInterfaces, BucketInterfaceAttachments,
}

// SchemaVersion is the layout this code reads and writes. A store written
// by a newer version is refused rather than misread; an older one is
// opened and brought up to date by Migrate.
//
//	1: no counters, instances without VCPUs
//	2: counters and the usage ledger
//	3: backends keep their state in bucket backends (was backend_sim)
//	4: each owner's cost of closed usage intervals (bucket usage_closed)
//	5: the index of launch intents (bucket launch_intents)
//	6: the index of volume attachments (bucket volume_attachments)
//	7: the index of volume intents (bucket volume_intents)
const SchemaVersion = "7"

// olderVersions are the versions Migrate upgrades.
var olderVersions = []string{"1", "2", "3", "4", "5", "6"}

const schemaKey = "schema_version"

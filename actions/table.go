package actions

import "fmt"

// families lists every action family's table; each file declares its own.
var families = []map[string]Handler{
	regionActions,
	instanceActions,
	imageActions,
	tagActions,
	keyPairActions,
	securityGroupActions,
	volumeActions,
	snapshotActions,
	addressActions,
	launchTemplateActions,
	instanceOptionActions,
	snapshotAttributeActions,
	instanceTypeOfferingActions,
	vpcActions,
	subnetActions,
	networkGatewayActions,
	networkInterfaceActions,
	classicLinkActions,
	prefixListActions,
}

// otherServices are the families of the services other than EC2 served at
// the same endpoint, by the name their requests are signed for.
var otherServices = map[string]map[string]Handler{
	"sts": stsActions,
	"iam": iamActions,
}

// Table returns the Action name -> handler table. A name declared by two
// families is a programming error and panics at start-up.
func Table() map[string]Handler {
	t := map[string]Handler{}
	join(func(name, _ string, h Handler) { t[name] = h })
	return t
}

// Services returns the Action name -> service table: the SigV4 signing
// name of the service each action belongs to ("ec2", "sts", "iam"), which
// decides the protocol it is answered in and the scope it must be signed
// for. The Action name alone decides: the names served do not collide.
func Services() map[string]string {
	t := map[string]string{}
	join(func(name, service string, _ Handler) { t[name] = service })
	return t
}

// storeFirst are the actions whose every effect is a store update made
// before anything outside the store happens (RunInstances launches inside
// its transaction, or records its intent before the backend is called):
// the server runs them while their audit entry is being written, and
// their updates commit only once it is durable (store.After), so that the
// two durable steps overlap instead of following each other.
var storeFirst = map[string]bool{"RunInstances": true}

// StoreFirst reports whether every effect of the action goes through a
// store update first.
func StoreFirst(action string) bool { return storeFirst[action] }

// join calls add for every action of every family, once.
func join(add func(name, service string, h Handler)) {
	seen := map[string]bool{}
	each := func(service string, f map[string]Handler) {
		for name, h := range f {
			if seen[name] {
				panic(fmt.Sprintf("actions: %s declared twice", name))
			}
			seen[name] = true
			add(name, service, h)
		}
	}
	for _, f := range families {
		each("ec2", f)
	}
	for service, f := range otherServices {
		each(service, f)
	}
}

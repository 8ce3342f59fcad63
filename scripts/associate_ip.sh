#!/bin/sh
# econe-server associate script (example): make ELASTIC_IP reach the
# instance at PRIVATE_IP, with a public address on this host plus NAT.
#
#   associate_ip.sh ELASTIC_IP PRIVATE_IP BASE64_CONTEXT
#
# Contract: see scripts/README.md. It must be idempotent: econe-server may
# run it again after a crash. Run as root (ip, iptables).
set -eu

# The interface the elastic IPs are reachable on. Edit for this host: the
# script runs with a clean environment (PATH and ECONE_* only).
PUBLIC_IFACE=eth0

usage() {
	echo "usage: $0 ELASTIC_IP PRIVATE_IP BASE64_CONTEXT" >&2
	exit 2
}

is_ipv4() {
	case $1 in
	*[!0-9.]* | *..* | .* | *.) return 1 ;;
	esac
	[ "$(echo "$1" | tr -cd . | wc -c)" -eq 3 ]
}

[ $# -eq 3 ] || usage
ELASTIC_IP=$1
PRIVATE_IP=$2
if ! is_ipv4 "$ELASTIC_IP" || ! is_ipv4 "$PRIVATE_IP"; then usage; fi
TAG="econe-eip:$ELASTIC_IP"

# ensure TABLE CHAIN POSITION RULE...: insert the rule unless it is there.
ensure() {
	table=$1 chain=$2 pos=$3
	shift 3
	if ! iptables -t "$table" -C "$chain" "$@" 2>/dev/null; then
		iptables -t "$table" -I "$chain" "$pos" "$@"
	fi
}

if ! ip -4 addr show dev "$PUBLIC_IFACE" | grep -qF " $ELASTIC_IP/32 "; then
	ip addr add "$ELASTIC_IP/32" dev "$PUBLIC_IFACE"
fi
# Inbound to the elastic IP goes to the instance (from outside and from this host).
ensure nat PREROUTING 1 -d "$ELASTIC_IP/32" -m comment --comment "$TAG" -j DNAT --to-destination "$PRIVATE_IP"
ensure nat OUTPUT 1 -d "$ELASTIC_IP/32" -m comment --comment "$TAG" -j DNAT --to-destination "$PRIVATE_IP"
# Outbound from the instance leaves with the elastic IP, ahead of any MASQUERADE.
ensure nat POSTROUTING 1 -s "$PRIVATE_IP/32" -m comment --comment "$TAG" -j SNAT --to-source "$ELASTIC_IP"
echo "associated $ELASTIC_IP with $PRIVATE_IP (${ECONE_INSTANCE_ID:-?} of ${ECONE_USER:-?})"

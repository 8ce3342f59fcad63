#!/bin/sh
# econe-server disassociate script (example): undo what associate_ip.sh
# did for ELASTIC_IP and PRIVATE_IP, including a half-done association.
#
#   disassociate_ip.sh ELASTIC_IP PRIVATE_IP BASE64_CONTEXT
#
# Contract: see scripts/README.md. It must be idempotent: removing what is
# not there succeeds. Run as root (ip, iptables).
set -eu

# The interface the elastic IPs are reachable on (as in associate_ip.sh).
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

# absent TABLE CHAIN RULE...: delete every copy of the rule.
absent() {
	table=$1 chain=$2
	shift 2
	while iptables -t "$table" -C "$chain" "$@" 2>/dev/null; do
		iptables -t "$table" -D "$chain" "$@"
	done
}

absent nat PREROUTING -d "$ELASTIC_IP/32" -m comment --comment "$TAG" -j DNAT --to-destination "$PRIVATE_IP"
absent nat OUTPUT -d "$ELASTIC_IP/32" -m comment --comment "$TAG" -j DNAT --to-destination "$PRIVATE_IP"
absent nat POSTROUTING -s "$PRIVATE_IP/32" -m comment --comment "$TAG" -j SNAT --to-source "$ELASTIC_IP"
if ip -4 addr show dev "$PUBLIC_IFACE" | grep -qF " $ELASTIC_IP/32 "; then
	ip addr del "$ELASTIC_IP/32" dev "$PUBLIC_IFACE"
fi
echo "disassociated $ELASTIC_IP from $PRIVATE_IP (${ECONE_INSTANCE_ID:-?} of ${ECONE_USER:-?})"

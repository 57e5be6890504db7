/* SPDX-License-Identifier: MIT */
/*
 * Tuple rewriting. A packet of a tracked connection is rewritten to the reverse
 * of its peer key: client -> VIP becomes SNAT/client -> backend, backend ->
 * SNAT/client becomes VIP -> client. Sequence and acknowledgment numbers are
 * written in the same 12-byte store as the ports.
 */
#ifndef LBCTL_NAT_H
#define LBCTL_NAT_H

#include "csum.h"

static __always_inline int nat_rewrite(struct __sk_buff *skb, const struct pkt *p, const struct lb_ct_key *peer,
				       __u32 seq, __u32 ack)
{
	/* new source = peer's destination, new destination = peer's source */
	if (!addr_eq(p->tuple.saddr, peer->daddr) || !addr_eq(p->tuple.daddr, peer->saddr)) {
		if (rewrite_addrs(skb, p, peer->daddr, peer->saddr))
			return -1;
	}
	return rewrite_tcp_prefix(skb, p, peer->dport, peer->sport, seq, ack);
}

#endif /* LBCTL_NAT_H */

/* SPDX-License-Identifier: MIT */
/*
 * Reply-tuple allocation. The REPLY conntrack key is exactly the tuple the
 * backend will send to, so inserting it with BPF_NOEXIST both checks and claims
 * it: no separate port table.
 *
 * fullnat: (backend, SNAT address, backend port, P). The SNAT address is the
 * service's override (--snat) when set, else the backend's own src_addr: the
 * route's preferred source towards it, so backends on several subnets each
 * reply to the balancer's address on their subnet. P is the client's own port
 * first, then LB_SNAT_TRIES ports derived from the tuple hash, in 1024-65535.
 * Two clients behind different addresses using the same source port towards the
 * same backend thus get different ports.
 * dnat: (backend, client, backend port, client port): nothing to choose; a
 * clash (the same client port reaching one backend through two VIPs) is dropped.
 */
#ifndef LBCTL_SNAT_H
#define LBCTL_SNAT_H

#include "conntrack.h"
#include "events.h"

#define LB_SNAT_TRIES 8
#define LB_SNAT_PORT_MIN 1024

/* fullnat's source address towards `be`: the service override, else the backend's; NULL when neither is set. */
static __always_inline const __u8 *snat_source(const struct lb_service *svc, const struct lb_backend *be)
{
	if (!addr_is_zero(svc->snat_addr))
		return svc->snat_addr;
	if (!addr_is_zero(be->src_addr))
		return be->src_addr;
	return 0;
}

static __always_inline __be16 snat_candidate(__u32 hash, __u32 i)
{
	__u32 h = hash_mix32(hash ^ (i * 0x9e3779b9));

	return bpf_htons(LB_SNAT_PORT_MIN + h % (65536 - LB_SNAT_PORT_MIN));
}

/*
 * Fill *reply with a free reply tuple and insert `alias` under it.
 * Returns 0, or the counter explaining the drop.
 */
static __always_inline int snat_claim(struct lb_ct_key *reply, const struct lb_ct_key *orig,
				      const struct lb_service *svc, const struct lb_backend *be, __u32 hash,
				      struct lb_ct_entry *alias)
{
	const __u8 *src;
	long err;

	addr_copy(reply->saddr, be->addr);
	reply->sport = be->port;
	reply->proto = orig->proto;
	reply->family = orig->family;
	reply->pad = 0;

	if (svc->mode != LB_MODE_FULLNAT) {
		addr_copy(reply->daddr, orig->saddr);
		reply->dport = orig->sport;
		err = bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST);
		if (err == -E2BIG)
			return LB_CNT_DROP_CT_FULL;
		return err ? LB_CNT_DROP_REPLY_COLLISION : 0;
	}

	src = snat_source(svc, be);
	if (!src)
		return LB_CNT_DROP_NO_BACKEND; /* a record the control plane never writes: no source to use */
	addr_copy(reply->daddr, src);
	reply->dport = orig->sport;
	err = bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST);
	if (err == -E2BIG)
		return LB_CNT_DROP_CT_FULL; /* not a port collision: no other port would fit either */
	if (!err)
		return 0;
	stat_inc(svc->id, LB_CNT_SNAT_PORT_COLLISION);
	for (__u32 i = 1; i <= LB_SNAT_TRIES; i++) {
		reply->dport = snat_candidate(hash, i);
		if (!bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST))
			return 0;
	}
	return LB_CNT_DROP_SNAT_EXHAUSTED;
}

#endif /* LBCTL_SNAT_H */

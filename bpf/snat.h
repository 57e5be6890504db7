/* SPDX-License-Identifier: MIT */
/*
 * Reply-tuple allocation. The REPLY conntrack key is exactly the tuple the
 * backend will send to, so inserting it with BPF_NOEXIST both checks and claims
 * it: no separate port table.
 *
 * fullnat: (backend, SNAT address, backend port, P). P comes from the SNAT port
 * range in lb_config (default LB_SNAT_PORTS_*_DEFAULT), never from the client:
 * the control plane keeps that range out of the balancer namespace's ephemeral
 * ports (disjoint from net.ipv4.ip_local_port_range, and reserved in
 * net.ipv4.ip_local_reserved_ports), so a REPLY entry can never capture the
 * replies of a connection the host opened itself. Up to LB_SNAT_TRIES ports
 * derived from the tuple hash are tried (snat_candidate).
 * dnat: (backend, client, backend port, client port): nothing to choose; a
 * clash (the same client port reaching one backend through two VIPs) is dropped.
 */
#ifndef LBCTL_SNAT_H
#define LBCTL_SNAT_H

#include "conntrack.h"
#include "events.h"

#define LB_SNAT_TRIES 16

struct snat_range {
	__u32 min;
	__u32 size;
};

static __always_inline struct snat_range snat_range_get(void)
{
	struct lb_config *cfg = config_get();
	struct snat_range r = { LB_SNAT_PORTS_MIN_DEFAULT,
				LB_SNAT_PORTS_MAX_DEFAULT - LB_SNAT_PORTS_MIN_DEFAULT + 1 };

	if (cfg && cfg->snat_port_min && cfg->snat_port_max >= cfg->snat_port_min) {
		r.min = cfg->snat_port_min;
		r.size = (__u32)cfg->snat_port_max - cfg->snat_port_min + 1;
	}
	return r;
}

/*
 * Try i of a connection with tuple hash `hash`: independent hashed ports, so
 * taken ports do not make later tries cluster; a range no larger than
 * LB_SNAT_TRIES is walked whole from a hashed start instead, so a small range
 * is only exhausted when it is full.
 */
static __always_inline __be16 snat_candidate(struct snat_range r, __u32 hash, __u32 i)
{
	__u32 off = r.size <= LB_SNAT_TRIES ? hash_mix32(hash) + i : hash_mix32(hash ^ (i * 0x9e3779b9));

	return bpf_htons(r.min + off % r.size);
}

/*
 * Fill *reply with a free reply tuple and insert `alias` under it.
 * Returns 0, or the counter explaining the drop.
 */
static __always_inline int snat_claim(struct lb_ct_key *reply, const struct lb_ct_key *orig,
				      const struct lb_service *svc, const struct lb_backend *be, __u32 hash,
				      struct lb_ct_entry *alias)
{
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

	struct snat_range range = snat_range_get();

	addr_copy(reply->daddr, svc->snat_addr);
	for (__u32 i = 0; i < LB_SNAT_TRIES; i++) {
		reply->dport = snat_candidate(range, hash, i);
		err = bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST);
		if (err == -E2BIG)
			return LB_CNT_DROP_CT_FULL; /* not a port collision: no other port would fit either */
		if (!err)
			return 0;
		if (i == 0)
			stat_inc(svc->id, LB_CNT_SNAT_PORT_COLLISION);
	}
	return LB_CNT_DROP_SNAT_EXHAUSTED;
}

#endif /* LBCTL_SNAT_H */

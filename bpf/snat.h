/*
 * Reply-tuple allocation. The REPLY conntrack key is exactly the tuple the
 * backend will send to, so inserting it with BPF_NOEXIST both checks and claims
 * it: no separate port table.
 *
 * fullnat: (backend, SNAT address, backend port, P). The SNAT address is the
 * service's override (--snat) when set, else the backend's own src_addr: the
 * route's preferred source towards it, so backends on several subnets each
 * reply to the balancer's address on their subnet. P comes from the SNAT port
 * range in lb_config (default LB_SNAT_PORTS_*_DEFAULT), never the client's own
 * port: the control plane keeps that range out of the balancer namespace's
 * ephemeral ports (disjoint from net.ipv4.ip_local_port_range, and reserved in
 * net.ipv4.ip_local_reserved_ports), so a REPLY entry can never capture the
 * replies of a connection the host opened itself.
 *
 * Which port (snat_candidate):
 *  - first the client's own port mapped into the range, min + (port - min) mod
 *    size: one-to-one over any client port range no larger than the SNAT range
 *    (Linux's 32768-60999 into the default 1024-32767). A client that reuses
 *    its port recycles its own CLOSED tuple (lbctl.bpf.c) and gets the same
 *    SNAT port again, so one busy client never collides with itself and the
 *    rate is not capped by the CLOSED timeout;
 *  - when another connection holds it, LB_SNAT_TRIES - 1 ports from hashes of
 *    the tuple (a range no larger than LB_SNAT_TRIES is walked whole).
 *
 * A port held by a connection that is CLOSED and idle in both directions for
 * LB_SNAT_RECLAIM_IDLE_NS is taken over (snat_reclaim):
 *  - the same client's at once: the backend may still hold that tuple in
 *    TIME_WAIT, and accepts a new SYN on it when its timestamp is newer
 *    (PAWS); one client's timestamps towards one VIP share one clock and
 *    offset (Linux: per address pair), so a client's later SYN is newer;
 *  - another client's only when none of the candidates is free or the same
 *    client's: its timestamps may be older, the backend then answers the SYN
 *    with an ACK of the old connection, the client resets it (passed through
 *    unshifted, see handle_orig) and its SYN retried a second later gets
 *    through. That costs no more than dropping the SYN (which the client also
 *    retries after a second), and it removes the cap that closed connections
 *    would put on the rate of many clients (range size / CLOSED timeout).
 * The idle second lets the closed connection's last retransmitted FIN or ACK
 * through before its entries go.
 *
 * dnat: (backend, client, backend port, client port): nothing to choose; a
 * clash (the same client port reaching one backend through two VIPs) is dropped.
 */
#ifndef LBCTL_SNAT_H
#define LBCTL_SNAT_H

#include "conntrack.h"
#include "events.h"

#define LB_SNAT_TRIES 16
#define LB_SNAT_RECLAIM_IDLE_NS 1000000000LL

/* fullnat's source address towards `be`: the service override, else the backend's; NULL when neither is set. */
static __always_inline const __u8 *snat_source(const struct lb_service *svc, const struct lb_backend *be)
{
	if (!addr_is_zero(svc->snat_addr))
		return svc->snat_addr;
	if (!addr_is_zero(be->src_addr))
		return be->src_addr;
	return 0;
}

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
 * Try i for a client on port `client_port` (host order) with tuple hash
 * `hash`: try 0 is the client's port mapped into the range, (port - min) mod
 * size; the later ones independent hashed ports, so taken ports do not make
 * them cluster, or, in a range no larger than LB_SNAT_TRIES, the next ports in
 * turn, so a small range is only exhausted when it is full.
 */
static __always_inline __be16 snat_candidate(struct snat_range r, __u32 client_port, __u32 hash, __u32 i)
{
	__u32 home = (client_port % r.size + r.size - r.min % r.size) % r.size;
	__u32 off = home;

	if (i && r.size <= LB_SNAT_TRIES)
		off = home + i;
	else if (i)
		off = hash_mix32(hash ^ (i * 0x9e3779b9));
	return bpf_htons(r.min + off % r.size);
}

#define SNAT_RECLAIM_NO 0
#define SNAT_RECLAIM_DONE 1	/* the tuple was freed: insert again */
#define SNAT_RECLAIM_FOREIGN 2	/* reclaimable, but another client's: only as a last resort */

/*
 * Free the fullnat REPLY tuple `reply_key` if the connection holding it may be
 * taken over (see the top of this file): CLOSED and idle for
 * LB_SNAT_RECLAIM_IDLE_NS in both directions, and the same client as `client`
 * unless `any_client`. An orphan REPLY entry (its ORIG entry gone) idle that
 * long goes too. A global function: verified once, not once per try.
 */
__attribute__((noinline)) int snat_reclaim(const struct lb_ct_key *reply_key, const struct lb_ct_key *client,
					   int any_client)
{
	struct lb_ct_key key, orig;
	struct lb_ct_entry *r, *o;
	__s64 now = (__s64)bpf_ktime_get_ns();

	if (!reply_key || !client)
		return SNAT_RECLAIM_NO;
	__builtin_memcpy(&key, reply_key, sizeof(key));
	r = ct_lookup(&key);
	if (!r || r->kind != LB_CT_KIND_REPLY || now - (__s64)r->last_seen_ns < LB_SNAT_RECLAIM_IDLE_NS)
		return SNAT_RECLAIM_NO;
	__builtin_memcpy(&orig, &r->peer, sizeof(orig));
	o = ct_lookup(&orig);
	if (o && o->kind == LB_CT_KIND_ORIG && o->peer.dport == key.dport && addr_eq(o->peer.daddr, key.daddr)) {
		if (o->state != LB_CT_CLOSED || now - (__s64)o->last_seen_ns < LB_SNAT_RECLAIM_IDLE_NS)
			return SNAT_RECLAIM_NO;
		if (!any_client && !addr_eq(orig.saddr, client->saddr))
			return SNAT_RECLAIM_FOREIGN;
		bpf_map_delete_elem(&lb_conntrack, &orig);
	}
	bpf_map_delete_elem(&lb_conntrack, &key);
	return SNAT_RECLAIM_DONE;
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

	struct snat_range range = snat_range_get();
	__u32 fallback = LB_SNAT_TRIES;

	src = snat_source(svc, be);
	if (!src)
		return LB_CNT_DROP_NO_BACKEND; /* a record the control plane never writes: no source to use */
	addr_copy(reply->daddr, src);
	for (__u32 i = 0; i < LB_SNAT_TRIES; i++) {
		reply->dport = snat_candidate(range, bpf_ntohs(orig->sport), hash, i);
		err = bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST);
		if (err == -E2BIG)
			return LB_CNT_DROP_CT_FULL; /* not a port collision: no other port would fit either */
		if (!err)
			return 0;
		if (i == 0)
			stat_inc(svc->id, LB_CNT_SNAT_PORT_COLLISION);
		err = snat_reclaim(reply, orig, 0);
		if (err == SNAT_RECLAIM_FOREIGN && fallback == LB_SNAT_TRIES)
			fallback = i;
		if (err == SNAT_RECLAIM_DONE && !bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST)) {
			stat_inc(svc->id, LB_CNT_SNAT_PORT_RECLAIMED);
			return 0;
		}
	}
	if (fallback < LB_SNAT_TRIES) {
		reply->dport = snat_candidate(range, bpf_ntohs(orig->sport), hash, fallback);
		if (snat_reclaim(reply, orig, 1) == SNAT_RECLAIM_DONE &&
		    !bpf_map_update_elem(&lb_conntrack, reply, alias, BPF_NOEXIST)) {
			stat_inc(svc->id, LB_CNT_SNAT_PORT_RECLAIMED);
			return 0;
		}
	}
	return LB_CNT_DROP_SNAT_EXHAUSTED;
}

#endif /* LBCTL_SNAT_H */

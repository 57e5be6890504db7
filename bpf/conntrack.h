/* SPDX-License-Identifier: MIT */
/*
 * Connection tracking. Each connection has two entries in one LRU hash:
 *  - ORIG, keyed by what the client sends (client -> VIP), holds all state;
 *  - REPLY, keyed by what the backend sends (backend -> SNAT address or client),
 *    holds only `peer` = the ORIG key.
 * The translation for a direction is "rewrite the tuple to the reverse of the
 * peer key", so no address is stored twice.
 *
 * Expiry: the ORIG entry carries a bpf_timer armed with the state's idle
 * timeout. The hot path only writes last_seen_ns; when the timer fires it
 * re-arms for the remaining idle time, or deletes both entries. State changes
 * towards FIN/CLOSED re-arm it with the shorter timeout. The table therefore
 * drains to zero without a user-space sweeper.
 */
#ifndef LBCTL_CONNTRACK_H
#define LBCTL_CONNTRACK_H

#include "config.h"
#include "stats.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_CT_MAX_ENTRIES);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_conntrack SEC(".maps");

static __always_inline struct lb_ct_entry *ct_lookup(const struct lb_ct_key *k)
{
	return bpf_map_lookup_elem(&lb_conntrack, k);
}

/* Build the key the other side uses: swap addresses and ports. */
static __always_inline void ct_key_reverse(struct lb_ct_key *out, const struct lb_ct_key *in)
{
	addr_copy(out->saddr, in->daddr);
	addr_copy(out->daddr, in->saddr);
	out->sport = in->dport;
	out->dport = in->sport;
	out->proto = in->proto;
	out->family = in->family;
	out->pad = 0;
}

static int ct_timer_fired(void *map, struct lb_ct_key *key, struct lb_ct_entry *e)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 timeout = ct_timeout_ns(e->state);
	__u64 idle = now - e->last_seen_ns;
	struct lb_ct_key peer;
	__u32 svc_id;

	if (idle < timeout) {
		bpf_timer_start(&e->timer, timeout - idle, 0);
		return 0;
	}
	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	svc_id = e->svc_id;
	bpf_map_delete_elem(map, &peer);
	bpf_map_delete_elem(map, key); /* frees this timer; allowed from its own callback */
	stat_inc(svc_id, LB_CNT_CONN_EXPIRED);
	return 0;
}

static __always_inline void ct_arm_timer(struct lb_ct_entry *e)
{
	bpf_timer_start(&e->timer, ct_timeout_ns(e->state), 0);
}

/* Remove both entries of a connection (ORIG entry given). */
static __always_inline void ct_delete_pair(const struct lb_ct_key *orig_key, struct lb_ct_entry *e)
{
	struct lb_ct_key peer;

	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	bpf_map_delete_elem(&lb_conntrack, &peer);
	bpf_map_delete_elem(&lb_conntrack, orig_key);
}

/*
 * Insert the ORIG entry `tmpl` (its peer already holds the REPLY key, which is
 * already inserted) and start its timer. Returns the map's copy or NULL.
 */
static __always_inline struct lb_ct_entry *ct_insert_orig(const struct lb_ct_key *orig_key,
							  struct lb_ct_entry *tmpl)
{
	struct lb_ct_entry *e;

	if (bpf_map_update_elem(&lb_conntrack, orig_key, tmpl, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&lb_conntrack, orig_key);
	if (!e)
		return 0;
	if (bpf_timer_init(&e->timer, &lb_conntrack, CLOCK_MONOTONIC) == 0) {
		bpf_timer_set_callback(&e->timer, ct_timer_fired);
		ct_arm_timer(e);
	}
	return e;
}

/*
 * TCP state from the flags of one segment. `from_client` selects which FIN flag
 * to set. The timer is re-armed only when the state moves towards closing, so
 * the common path costs one store.
 */
static __always_inline void ct_track(struct lb_ct_entry *e, const struct pkt *p, int from_client)
{
	__u8 old = e->state, next = old;

	if (old == LB_CT_CLOSED) {
		/* stays closed until its timer removes it or a new SYN recycles the tuple */
	} else if (p->tcp_flags & TCP_FLAG_RST) {
		next = LB_CT_CLOSED;
	} else {
		if (!from_client && (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == (TCP_FLAG_SYN | TCP_FLAG_ACK) &&
		    old == LB_CT_SYN_SENT)
			next = LB_CT_ESTABLISHED;
		if (p->tcp_flags & TCP_FLAG_FIN) {
			e->flags |= from_client ? LB_CT_F_FIN_ORIG : LB_CT_F_FIN_REPLY;
			next = (e->flags & (LB_CT_F_FIN_ORIG | LB_CT_F_FIN_REPLY)) ==
					       (LB_CT_F_FIN_ORIG | LB_CT_F_FIN_REPLY)
				       ? LB_CT_CLOSED
				       : LB_CT_FIN;
		}
	}
	e->last_seen_ns = bpf_ktime_get_ns();
	if (next != old) {
		e->state = next;
		if (next >= LB_CT_FIN)
			ct_arm_timer(e);
	}
}

#endif /* LBCTL_CONNTRACK_H */

/* SPDX-License-Identifier: MIT */
/*
 * Forwarding after a rewrite. Handing a fullnat packet back to the stack with
 * TC_ACT_OK gets it dropped as a martian (its source is now a local address),
 * so the datapath routes it itself: bpf_fib_lookup for the egress device and
 * next hop, then bpf_redirect_neigh, which resolves the neighbour and writes the
 * Ethernet header. The lookup is from the ingress perspective, so the balancer
 * needs forwarding enabled (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding).
 */
#ifndef LBCTL_FIB_H
#define LBCTL_FIB_H

#include "stats.h"

/*
 * Route cache. bpf_fib_lookup is the most expensive call on the per-packet path (about a third of the
 * program's time on established connections), and its answer rarely changes: every packet of every
 * connection towards the same backend (and every reply towards the same client) asks the same question.
 * So each CPU keeps a small direct-mapped cache of answers, keyed by everything the lookup is given
 * (ingress device, family, source, destination), each answer trusted for LB_FIB_CACHE_TTL_NS. The cache
 * holds the egress device, the next hop and the device MTU, not MAC addresses: bpf_redirect_neigh still
 * resolves the neighbour for every packet, so a neighbour change (new MAC, failover) applies at once, and a
 * route change applies within the TTL. The MTU check the lookup does (is_skb_forwardable: length against
 * MTU + Ethernet + VLAN header unless GSO) is repeated on a hit, and a packet that fails it takes the full
 * lookup, which counts the drop. Only successful lookups are cached. Per CPU: no locking, and a tc program
 * never runs nested on one CPU.
 */
#define LB_FIB_CACHE_SLOTS 256 /* power of two */
#define LB_FIB_CACHE_TTL_NS (100 * 1000000ULL)

struct fib_cache_entry {
	struct bpf_redir_neigh nh; /* handed to bpf_redirect_neigh as is (20 bytes) */
	__u32 in_ifindex;
	__u32 out_ifindex;
	__u16 mtu;
	__u8 family;
	__u8 pad;
	__u8 src[16];
	__u8 dst[16];
	__u64 stamp_ns; /* 0: empty */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_FIB_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct fib_cache_entry);
} lb_fib_cache SEC(".maps");

static __always_inline __u32 fib_cache_slot(__u32 ifindex, const __u8 *saddr, const __u8 *daddr)
{
	const __u32 *s = (const __u32 *)saddr, *d = (const __u32 *)daddr;

	return hash_mix32(ifindex ^ s[0] ^ s[3] ^ d[0] ^ (d[3] * 0x9e3779b9)) & (LB_FIB_CACHE_SLOTS - 1);
}

static __always_inline void fib_nh_set(struct bpf_redir_neigh *nh, __u8 family, const __u8 *addr)
{
	if (family == LB_FAMILY_V4) {
		nh->nh_family = AF_INET;
		__builtin_memcpy(&nh->ipv4_nh, addr, 4);
	} else {
		nh->nh_family = AF_INET6;
		__builtin_memcpy(nh->ipv6_nh, addr, 16);
	}
}

/* The lookup's question for a packet rewritten to the reverse of `peer`, arriving on skb's ingress device. */
static __always_inline void fib_question(struct bpf_fib_lookup *fib, struct __sk_buff *skb,
					 const struct lb_ct_key *peer)
{
	const __u8 *saddr = peer->daddr, *daddr = peer->saddr;

	fib->ifindex = skb->ingress_ifindex;
	fib->l4_protocol = peer->proto;
	if (peer->family == LB_FAMILY_V4) {
		fib->family = AF_INET;
		__builtin_memcpy(&fib->ipv4_src, saddr, 4);
		__builtin_memcpy(&fib->ipv4_dst, daddr, 4);
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, daddr, 16);
	}
}

/* The cache slot for this route when it holds a fresh answer, else NULL (`*slot_out`: the slot, or NULL). */
static __always_inline struct fib_cache_entry *fib_cache_hit(struct __sk_buff *skb, const struct lb_ct_key *peer,
							     __u64 now, struct fib_cache_entry **slot_out)
{
	const __u8 *saddr = peer->daddr, *daddr = peer->saddr;
	__u32 in_ifindex = skb->ingress_ifindex;
	__u32 slot = fib_cache_slot(in_ifindex, saddr, daddr);
	struct fib_cache_entry *c = bpf_map_lookup_elem(&lb_fib_cache, &slot);

	*slot_out = c;
	if (c && c->stamp_ns && now - c->stamp_ns < LB_FIB_CACHE_TTL_NS && c->in_ifindex == in_ifindex &&
	    c->family == peer->family && addr_eq(c->dst, daddr) && addr_eq(c->src, saddr))
		return c;
	return 0;
}

/* The full lookup, on a cache miss; fills the cache slot `c` (may be NULL) on success. */
static __attribute__((noinline)) int fib_forward_slow(struct __sk_buff *skb, const struct lb_ct_key *peer,
						      __u32 svc_id, __u64 now, struct fib_cache_entry *c)
{
	const __u8 *saddr = peer->daddr, *daddr = peer->saddr;
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	__u8 family = peer->family;
	long rc;

	fib_question(&fib, skb, peer);
	/* tot_len 0: the kernel checks the skb itself against the egress MTU (GSO aware). */
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		/* ipv4_dst / ipv6_dst now hold the next hop: the gateway when there is one */
		fib_nh_set(&nh, family, family == LB_FAMILY_V4 ? (__u8 *)&fib.ipv4_dst : (__u8 *)fib.ipv6_dst);
		/* mtu_result is only set on success (then it is the egress device's MTU) */
		if (rc == BPF_FIB_LKUP_RET_SUCCESS && c) {
			addr_copy(c->src, saddr);
			addr_copy(c->dst, daddr);
			__builtin_memcpy(&c->nh, &nh, sizeof(nh));
			c->in_ifindex = skb->ingress_ifindex;
			c->out_ifindex = fib.ifindex;
			c->mtu = fib.mtu_result;
			c->family = family;
			c->stamp_ns = now ? now : 1;
		}
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		stat_inc(svc_id, LB_CNT_DROP_FIB_UNREACHABLE);
		return TC_ACT_SHOT;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		stat_inc(svc_id, LB_CNT_DROP_FIB_FWD_DISABLED);
		return TC_ACT_SHOT;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		stat_inc(svc_id, LB_CNT_DROP_FIB_FRAG_NEEDED);
		return TC_ACT_SHOT;
	default:
		stat_inc(svc_id, LB_CNT_DROP_FIB_OTHER);
		return TC_ACT_SHOT;
	}
}

/*
 * Forward a rewritten packet: its addresses are now the reverse of `peer` (source = peer's destination).
 * `now`: CLOCK_MONOTONIC(_COARSE) ns, for the cache's TTL. Not inlined: the lookup's 64-byte argument and
 * the rest of this path stay out of the main program's stack frame (the main program and the deepest global
 * function it calls share 512 bytes).
 */
static __attribute__((noinline)) int fib_forward(struct __sk_buff *skb, const struct lb_ct_key *peer, __u32 svc_id,
						 __u64 now)
{
	struct fib_cache_entry *slot, *c = fib_cache_hit(skb, peer, now, &slot);

	if (c && (skb->len <= (__u32)c->mtu + ETH_HLEN + 4 || skb->gso_size))
		return bpf_redirect_neigh(c->out_ifindex, &c->nh, sizeof(c->nh), 0);
	return fib_forward_slow(skb, peer, svc_id, now, slot);
}

/*
 * Whether an IP packet of `ip_len` bytes, rewritten to the reverse of `peer`, fits the MTU of its route: exactly,
 * with none of the VLAN-tag allowance the forwarding check has (a datagram grown past the MTU must not pass on
 * a link that happens to tolerate 4 more bytes). A cached answer compares with the device MTU; a miss asks the
 * kernel with tot_len set, which compares with the route's MTU. A route that fails otherwise answers "fits":
 * fib_forward then counts that failure.
 */
static __attribute__((noinline)) int fib_fits(struct __sk_buff *skb, const struct lb_ct_key *peer, __u32 ip_len,
					      __u64 now)
{
	struct fib_cache_entry *slot, *c = fib_cache_hit(skb, peer, now, &slot);
	struct bpf_fib_lookup fib = {};

	if (c)
		return ip_len <= c->mtu;
	fib_question(&fib, skb, peer);
	fib.tot_len = ip_len;
	return bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_FRAG_NEEDED;
}

#endif /* LBCTL_FIB_H */

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

static __always_inline int fib_forward(struct __sk_buff *skb, __u8 family, const __u8 *saddr, const __u8 *daddr,
				       __u32 svc_id)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	long rc;

	fib.ifindex = skb->ingress_ifindex;
	fib.l4_protocol = IPPROTO_TCP;
	if (family == LB_FAMILY_V4) {
		fib.family = AF_INET;
		__builtin_memcpy(&fib.ipv4_src, saddr, 4);
		__builtin_memcpy(&fib.ipv4_dst, daddr, 4);
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_src, saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, daddr, 16);
	}
	/* tot_len 0: the kernel checks the skb itself against the egress MTU (GSO aware). */
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		if (fib.family == AF_INET) {
			nh.nh_family = AF_INET;
			nh.ipv4_nh = fib.ipv4_dst; /* the gateway when there is one */
		} else {
			nh.nh_family = AF_INET6;
			__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
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

#endif /* LBCTL_FIB_H */

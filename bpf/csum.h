/* SPDX-License-Identifier: MIT */
/*
 * Checksum bookkeeping. Every change is applied incrementally through the
 * kernel's helpers, which know the skb's checksum state:
 *  - changes to fields the TCP pseudo-header covers (addresses, TCP length) go
 *    through bpf_l4_csum_replace with BPF_F_PSEUDO_HDR: under CHECKSUM_PARTIAL
 *    that updates the pseudo-header sum kept in th->check, otherwise the full sum;
 *  - changes to TCP header words and payload go without BPF_F_PSEUDO_HDR: under
 *    CHECKSUM_PARTIAL the helper leaves th->check alone (the device or
 *    skb_checksum_help sums the final bytes from csum_start), otherwise it
 *    folds the difference into the full sum.
 * The IPv4 header checksum is always a full sum (bpf_l3_csum_replace).
 */
#ifndef LBCTL_CSUM_H
#define LBCTL_CSUM_H

#include "parse.h"

#define IPV4_CSUM_OFF (L3_OFF + 10)
#define TCP_CSUM_OFF(p) ((p)->l4_off + 16)

/* Pseudo-header change on the TCP checksum; IPv6 wants BPF_F_IPV6 on kernels that know it. */
static __always_inline int l4_pseudo_replace(struct __sk_buff *skb, const struct pkt *p, __u64 from, __u64 to,
					     __u64 size)
{
	__u64 flags = BPF_F_PSEUDO_HDR | size;

	if (p->family == LB_FAMILY_V6) {
		if (!bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), from, to, flags | BPF_F_IPV6))
			return 0;
	}
	return bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), from, to, flags);
}

/*
 * Replace source and destination addresses. IPv4 addresses sit at L3+12
 * (8 bytes), IPv6 at L3+8 (32 bytes); both are contiguous.
 */
static __always_inline int rewrite_addrs(struct __sk_buff *skb, const struct pkt *p, const __u8 *new_saddr,
					 const __u8 *new_daddr)
{
	__u32 old[8] = {}, new[8] = {};
	__s64 diff;

	if (p->family == LB_FAMILY_V4) {
		__builtin_memcpy(&old[0], p->tuple.saddr, 4);
		__builtin_memcpy(&old[1], p->tuple.daddr, 4);
		__builtin_memcpy(&new[0], new_saddr, 4);
		__builtin_memcpy(&new[1], new_daddr, 4);
		diff = bpf_csum_diff(old, 8, new, 8, 0);
		if (bpf_skb_store_bytes(skb, L3_OFF + 12, new, 8, 0))
			return -1;
		if (bpf_l3_csum_replace(skb, IPV4_CSUM_OFF, 0, diff, 0))
			return -1;
	} else {
		__builtin_memcpy(&old[0], p->tuple.saddr, 16);
		__builtin_memcpy(&old[4], p->tuple.daddr, 16);
		__builtin_memcpy(&new[0], new_saddr, 16);
		__builtin_memcpy(&new[4], new_daddr, 16);
		diff = bpf_csum_diff(old, 32, new, 32, 0);
		if (bpf_skb_store_bytes(skb, L3_OFF + 8, new, 32, 0))
			return -1;
	}
	return l4_pseudo_replace(skb, p, 0, diff, 0);
}

/*
 * Replace the first 12 bytes of the TCP header: ports, sequence and
 * acknowledgment number (seq/ack in host order). Not covered by the pseudo-header.
 */
static __always_inline int rewrite_tcp_prefix(struct __sk_buff *skb, const struct pkt *p, __be16 sport,
					      __be16 dport, __u32 seq, __u32 ack)
{
	__u32 old[3], new[3];
	__s64 diff;

	if (bpf_skb_load_bytes(skb, p->l4_off, old, sizeof(old)))
		return -1;
	new[0] = ((__u32)dport << 16) | sport; /* both already in network order: bytes sport, dport */
	new[1] = bpf_htonl(seq);
	new[2] = bpf_htonl(ack);
	if (old[0] == new[0] && old[1] == new[1] && old[2] == new[2])
		return 0;
	diff = bpf_csum_diff(old, sizeof(old), new, sizeof(new), 0);
	if (bpf_skb_store_bytes(skb, p->l4_off, new, sizeof(new), 0))
		return -1;
	return bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), 0, diff, 0);
}

/* Set the TCP length (header + payload) in the IP header and in the pseudo-header sum. */
static __always_inline int set_tcp_len(struct __sk_buff *skb, const struct pkt *p, __u32 new_len)
{
	__be16 old_tcp = bpf_htons(p->tcp_len), new_tcp = bpf_htons(new_len);

	if (p->family == LB_FAMILY_V4) {
		__be16 old_tot = bpf_htons(p->tcp_len + sizeof(struct iphdr));
		__be16 new_tot = bpf_htons(new_len + sizeof(struct iphdr));

		if (bpf_skb_store_bytes(skb, L3_OFF + offsetof(struct iphdr, tot_len), &new_tot, 2, 0))
			return -1;
		if (bpf_l3_csum_replace(skb, IPV4_CSUM_OFF, old_tot, new_tot, 2))
			return -1;
	} else {
		if (bpf_skb_store_bytes(skb, L3_OFF + offsetof(struct ipv6hdr, payload_len), &new_tcp, 2, 0))
			return -1;
	}
	return l4_pseudo_replace(skb, p, old_tcp, new_tcp, 2);
}

/*
 * Account for `len4` bytes (a multiple of 4, zero-padded) newly placed in the
 * TCP payload at an even offset.
 */
static __always_inline int csum_add_payload(struct __sk_buff *skb, const struct pkt *p, void *buf, __u32 len4)
{
	__s64 sum = bpf_csum_diff(0, 0, buf, len4, 0);

	if (sum < 0)
		return -1;
	return bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), 0, sum, 0);
}

#endif /* LBCTL_CSUM_H */

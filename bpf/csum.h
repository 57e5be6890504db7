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
 * The IPv4 header checksum is always a full sum: updated in the program for
 * the NAT rewrite (nat.h), with bpf_l3_csum_replace elsewhere.
 */
#ifndef LBCTL_CSUM_H
#define LBCTL_CSUM_H

#include "parse.h"

#define IPV4_CSUM_OFF (L3_OFF + 10)
#define TCP_CSUM_OFF(p) ((p)->l4_off + 16)
#define UDP_CSUM_OFF(p) ((p)->l4_off + 6)
#define UDP_LEN_OFF(p) ((p)->l4_off + 4)

/* The L4 checksum of a TCP or UDP packet (tuple.proto; 0 means TCP, for packets rebuilt from packed arguments). */
static __always_inline int is_udp(const struct pkt *p)
{
	return p->tuple.proto == LB_PROTO_UDP;
}

static __always_inline __u32 l4_csum_off(const struct pkt *p)
{
	return is_udp(p) ? UDP_CSUM_OFF(p) : TCP_CSUM_OFF(p);
}

/*
 * UDP over IPv4 may have no checksum (0): BPF_F_MARK_MANGLED_0 leaves it at 0, and writes a computed 0 as
 * 0xffff, as RFC 768 wants (over IPv6 the checksum is mandatory and never 0 either way).
 */
static __always_inline __u64 l4_csum_flags(const struct pkt *p)
{
	return is_udp(p) ? BPF_F_MARK_MANGLED_0 : 0;
}

/* Change the L4 checksum by a difference (a __wsum) of non-pseudo-header bytes. */
static __always_inline int l4_csum_add(struct __sk_buff *skb, const struct pkt *p, __u64 from, __u64 to, __u64 size)
{
	return bpf_l4_csum_replace(skb, l4_csum_off(p), from, to, size | l4_csum_flags(p));
}

/* Pseudo-header change on the L4 checksum; IPv6 wants BPF_F_IPV6 on kernels that know it. */
static __always_inline int l4_pseudo_replace(struct __sk_buff *skb, const struct pkt *p, __u64 from, __u64 to,
					     __u64 size)
{
	__u64 flags = BPF_F_PSEUDO_HDR | size | l4_csum_flags(p);

	if (p->family == LB_FAMILY_V6) {
		if (!bpf_l4_csum_replace(skb, l4_csum_off(p), from, to, flags | BPF_F_IPV6))
			return 0;
	}
	return bpf_l4_csum_replace(skb, l4_csum_off(p), from, to, flags);
}

/*
 * Ones'-complement sums computed in the program, for rewrites done by direct packet access: a 64-bit
 * accumulator of 32-bit words (memory order, as bpf_csum_diff sums them), `~old + new` per changed word.
 */
static __always_inline __u64 csum_acc(__u64 acc, __u32 old_word, __u32 new_word)
{
	return acc + (__u32)~old_word + new_word;
}

/* The accumulator as a 32-bit partial sum (__wsum), as bpf_l4_csum_replace takes a difference. */
static __always_inline __u32 csum_acc_wsum(__u64 acc)
{
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	return (__u32)acc;
}

/* Apply a difference to a 16-bit checksum field held in full (IPv4 header): csum_replace_by_diff. */
static __always_inline __u16 csum_apply(__u16 check, __u32 diff)
{
	__u64 s = (__u64)diff + (__u16)~check;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * Set the TCP length (header + payload) in the IP header and in the pseudo-header sum; for UDP also the
 * length field of the UDP header, which the checksum covers a second time (as a header word).
 */
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
	if (is_udp(p)) {
		if (bpf_skb_store_bytes(skb, UDP_LEN_OFF(p), &new_tcp, 2, 0) || l4_csum_add(skb, p, old_tcp, new_tcp, 2))
			return -1;
	}
	return l4_pseudo_replace(skb, p, old_tcp, new_tcp, 2);
}

/*
 * Account for `len4` bytes (a multiple of 4, zero-padded) newly placed in the
 * TCP or UDP payload at an even offset.
 */
static __always_inline int csum_add_payload(struct __sk_buff *skb, const struct pkt *p, void *buf, __u32 len4)
{
	__s64 sum = bpf_csum_diff(0, 0, buf, len4, 0);

	if (sum < 0)
		return -1;
	return l4_csum_add(skb, p, 0, sum, 0);
}

#endif /* LBCTL_CSUM_H */

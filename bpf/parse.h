/* SPDX-License-Identifier: MIT */
/*
 * Packet parsing: Ethernet + IPv4 (no options, not fragmented) or IPv6 (TCP as
 * the first next header) + TCP. Everything else is left to the kernel. Headers
 * are copied with bpf_skb_load_bytes so the parsed view stays valid across the
 * helpers that resize the packet.
 */
#ifndef LBCTL_PARSE_H
#define LBCTL_PARSE_H

#include "common.h"

#define L3_OFF ETH_HLEN

struct pkt {
	struct lb_ct_key tuple; /* as seen on the wire */
	__u32 l4_off;           /* offset of the TCP header */
	__u32 tcp_len;          /* TCP header + payload, from the IP header */
	__u32 payload_len;
	__u32 seq;              /* host order */
	__u32 ack;              /* host order */
	__u16 thl;              /* TCP header length */
	__u8 tcp_flags;
	__u8 family;
};

static __always_inline int parse_pkt(struct __sk_buff *skb, struct pkt *p)
{
	struct tcphdr th;

	__builtin_memset(p, 0, sizeof(*p));
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, L3_OFF, &ip, sizeof(ip)))
			return -1;
		/* IPv4 options would move the TCP header: bpf_skb_adjust_room and our offsets assume 20 bytes. */
		if (ip.version != 4 || ip.ihl != 5 || ip.protocol != IPPROTO_TCP)
			return -1;
		if (ip.frag_off & bpf_htons(0x3fff)) /* MF or fragment offset */
			return -1;
		p->family = LB_FAMILY_V4;
		p->l4_off = L3_OFF + sizeof(struct iphdr);
		p->tcp_len = bpf_ntohs(ip.tot_len);
		if (p->tcp_len < sizeof(struct iphdr) + sizeof(struct tcphdr))
			return -1;
		p->tcp_len -= sizeof(struct iphdr);
		__builtin_memcpy(p->tuple.saddr, &ip.saddr, 4);
		__builtin_memcpy(p->tuple.daddr, &ip.daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, L3_OFF, &ip6, sizeof(ip6)))
			return -1;
		/* Extension headers are not followed: only TCP right after the fixed header. */
		if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP)
			return -1;
		p->family = LB_FAMILY_V6;
		p->l4_off = L3_OFF + sizeof(struct ipv6hdr);
		p->tcp_len = bpf_ntohs(ip6.payload_len);
		__builtin_memcpy(p->tuple.saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->tuple.daddr, &ip6.daddr, 16);
	} else {
		return -1;
	}

	if (bpf_skb_load_bytes(skb, p->l4_off, &th, sizeof(th)))
		return -1;
	p->thl = th.doff * 4;
	if (p->thl < sizeof(struct tcphdr) || p->thl > p->tcp_len)
		return -1;
	p->payload_len = p->tcp_len - p->thl;
	p->tuple.sport = th.source;
	p->tuple.dport = th.dest;
	p->tuple.proto = LB_PROTO_TCP;
	p->tuple.family = p->family;
	p->seq = bpf_ntohl(th.seq);
	p->ack = bpf_ntohl(th.ack_seq);
	p->tcp_flags = ((__u8 *)&th)[13];
	return 0;
}

static __always_inline int is_syn_only(const struct pkt *p)
{
	return (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN;
}

#endif /* LBCTL_PARSE_H */

/* SPDX-License-Identifier: MIT */
/*
 * Packet parsing: Ethernet + IPv4 (no options, not fragmented) or IPv6 (TCP or
 * UDP as the first next header) + TCP or UDP. Everything else is left to the kernel. The
 * headers are read in place (direct packet access: no helper call per field),
 * after pulling them into the linear part when a driver left them in fragments;
 * the parsed values are copied into struct pkt, which stays valid across the
 * helpers that resize the packet (pointers into the packet do not).
 */
#ifndef LBCTL_PARSE_H
#define LBCTL_PARSE_H

#include "common.h"

#define L3_OFF ETH_HLEN

struct pkt {
	struct lb_ct_key tuple; /* as seen on the wire */
	__u32 l4_off;           /* offset of the TCP (or UDP) header */
	__u32 tcp_len;          /* TCP (or UDP) header + payload, from the IP header */
	__u32 payload_len;
	__u32 seq;              /* host order; 0 for UDP */
	__u32 ack;              /* host order; 0 for UDP */
	__u8 thl;               /* TCP header length (8 for UDP) */
	__u8 ts_only;           /* the options are exactly NOP, NOP, timestamps (see tcp_opts_ts_only) */
	__u8 tcp_flags;
	__u8 family;
};

/* Make the first `len` bytes directly readable; 0 or -1. */
static __always_inline int pkt_pull(struct __sk_buff *skb, __u32 len)
{
	if ((void *)(long)skb->data + len <= (void *)(long)skb->data_end)
		return 0;
	if (skb->len < len || bpf_skb_pull_data(skb, len))
		return -1;
	return (void *)(long)skb->data + len <= (void *)(long)skb->data_end ? 0 : -1;
}

/* The TCP header at the constant offset l4_off (a constant keeps the verifier's bounds simple). */
static __always_inline int parse_tcp(struct __sk_buff *skb, struct pkt *p, const __u32 l4_off)
{
	void *data, *end;
	struct tcphdr *th;

	if (pkt_pull(skb, l4_off + sizeof(struct tcphdr)))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	th = data + l4_off;
	if ((void *)(th + 1) > end)
		return -1;
	p->thl = th->doff * 4;
	if (p->thl < sizeof(struct tcphdr) || p->thl > p->tcp_len)
		return -1;
	p->payload_len = p->tcp_len - p->thl;
	p->tuple.sport = th->source;
	p->tuple.dport = th->dest;
	p->tuple.proto = LB_PROTO_TCP;
	p->tuple.family = p->family;
	p->seq = bpf_ntohl(th->seq);
	p->ack = bpf_ntohl(th->ack_seq);
	p->tcp_flags = ((__u8 *)th)[13];
	if (p->thl == sizeof(struct tcphdr) + 12 && (void *)(th + 1) + 4 <= end)
		p->ts_only = *(__u32 *)(th + 1) == bpf_htonl(0x0101080a);
	return 0;
}

/* The UDP header at the constant offset l4_off; its length must be the IP payload's (no trailing bytes). */
static __always_inline int parse_udp(struct __sk_buff *skb, struct pkt *p, const __u32 l4_off)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct udphdr *uh = data + l4_off;

	if ((void *)(uh + 1) > end)
		return -1;
	if (bpf_ntohs(uh->len) != p->tcp_len || p->tcp_len < sizeof(struct udphdr))
		return -1;
	p->thl = sizeof(struct udphdr);
	p->payload_len = p->tcp_len - sizeof(struct udphdr);
	p->tuple.sport = uh->source;
	p->tuple.dport = uh->dest;
	p->tuple.proto = LB_PROTO_UDP;
	p->tuple.family = p->family;
	return 0;
}

/* TCP or UDP at the constant offset l4_off (the IP header has been parsed into p). */
static __always_inline int parse_l4(struct __sk_buff *skb, struct pkt *p, __u8 proto, const __u32 l4_off)
{
	if (proto == IPPROTO_TCP)
		return parse_tcp(skb, p, l4_off);
	return parse_udp(skb, p, l4_off);
}

static __always_inline int parse_pkt(struct __sk_buff *skb, struct pkt *p)
{
	__u8 proto;

	__builtin_memset(p, 0, sizeof(*p));
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip;

		/* The UDP header's 8 bytes first: a short datagram has no room for a TCP header's 20. */
		if (pkt_pull(skb, L3_OFF + sizeof(struct iphdr) + sizeof(struct udphdr)))
			return -1;
		ip = (void *)(long)skb->data + L3_OFF;
		if ((void *)(ip + 1) > (void *)(long)skb->data_end)
			return -1;
		/* IPv4 options would move the TCP header: bpf_skb_adjust_room and our offsets assume 20 bytes. */
		proto = ip->protocol;
		if (ip->version != 4 || ip->ihl != 5 || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
			return -1;
		if (ip->frag_off & bpf_htons(0x3fff)) /* MF or fragment offset */
			return -1;
		p->family = LB_FAMILY_V4;
		p->l4_off = L3_OFF + sizeof(struct iphdr);
		p->tcp_len = bpf_ntohs(ip->tot_len);
		if (p->tcp_len < sizeof(struct iphdr) + sizeof(struct udphdr))
			return -1;
		p->tcp_len -= sizeof(struct iphdr);
		__builtin_memcpy(p->tuple.saddr, &ip->saddr, 4);
		__builtin_memcpy(p->tuple.daddr, &ip->daddr, 4);
		return parse_l4(skb, p, proto, L3_OFF + sizeof(struct iphdr));
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6;

		if (pkt_pull(skb, L3_OFF + sizeof(struct ipv6hdr) + sizeof(struct udphdr)))
			return -1;
		ip6 = (void *)(long)skb->data + L3_OFF;
		if ((void *)(ip6 + 1) > (void *)(long)skb->data_end)
			return -1;
		/* Extension headers are not followed: only TCP or UDP right after the fixed header. */
		proto = ip6->nexthdr;
		if (ip6->version != 6 || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
			return -1;
		p->family = LB_FAMILY_V6;
		p->l4_off = L3_OFF + sizeof(struct ipv6hdr);
		p->tcp_len = bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(p->tuple.saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->tuple.daddr, &ip6->daddr, 16);
		return parse_l4(skb, p, proto, L3_OFF + sizeof(struct ipv6hdr));
	}
	return -1;
}

/* The options are exactly NOP, NOP, timestamps: the usual layout on established connections (no SACK, no MSS). */
static __always_inline int tcp_opts_ts_only(const struct pkt *p)
{
	return p->ts_only;
}

static __always_inline int is_syn_only(const struct pkt *p)
{
	return (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN;
}

#endif /* LBCTL_PARSE_H */

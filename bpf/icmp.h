/* SPDX-License-Identifier: MIT */
/*
 * ICMP and ICMPv6 errors about tracked connections: destination unreachable (fragmentation needed among
 * them), packet too big and time exceeded. Without this, an error a router sends about a translated packet
 * reaches an address (the SNAT address, the VIP) or a socket 4-tuple that nobody has, path MTU discovery
 * never learns of a smaller MTU between the balancer and a backend, and full-size segments black-hole.
 *
 * An error goes to the sender of the packet it quotes, and that sender is the balancer's translation: the
 * quoted packet is a tracked connection's packet as it left the balancer, so its reversed tuple is a
 * conntrack key. The entry found (`e`) holds in `peer` exactly what the other end sent or expects:
 *  - a REPLY entry: the quoted packet went to the backend (SNAT/client -> backend); the client sent it
 *    as its ORIG key (client -> VIP), which is `peer` as it stands;
 *  - an ORIG entry: the quoted packet went to the client (VIP -> client); the backend sent it as the
 *    REPLY key (backend -> SNAT/client), which is again `peer` as it stands.
 * So the quoted packet becomes `peer` verbatim (addresses and ports), and the error goes from `peer`'s
 * destination to `peer`'s source: to the client from the VIP, or to the backend from the SNAT address (the
 * client in dnat), which is also what fib_forward expects of a rewritten packet and its peer key.
 *
 * Sequence numbers: a stack accepts an error only if the quoted sequence number lies in what it has in
 * flight (Linux: between snd_una and snd_nxt), so the quoted numbers are moved back across the PPv2
 * header shift: a client -> backend segment's sequence number from the backend's space to the client's
 * (as handle_reply maps acknowledgments), a backend -> client segment's acknowledgment the other way.
 * A packet-too-big about the segment that carried the header in front of client data reports an MTU
 * smaller by the header length: the client's retransmission of that segment grows by the header again.
 *
 * Checksums, all by direct packet access since nothing here is ever CHECKSUM_PARTIAL (the kernel sums
 * ICMP in software): outer IPv4 header; the ICMP checksum over everything changed behind it (and, for
 * ICMPv6, the pseudo-header's addresses); the quoted IPv4 header's checksum; and the quoted TCP checksum
 * when the whole quoted TCP header is there (its pseudo-header changes too). A quote is usually truncated
 * (ICMPv4 guarantees 8 bytes of it), so a quoted TCP checksum can never be verified against the data; it
 * is kept consistent rather than recomputed. Every change leaves the packet's total sum as it was, so a
 * CHECKSUM_COMPLETE skb->csum stays right too.
 *
 * Only errors whose outer and quoted IPv4 headers have no options, and whose ICMPv6 and quoted IPv6
 * headers are followed directly by ICMPv6 and TCP, are looked at; everything else passes untouched.
 */
#ifndef LBCTL_ICMP_H
#define LBCTL_ICMP_H

#include "conntrack.h"
#include "fib.h"
#include "tcp_opts.h"

#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4 /* code of ICMP_DEST_UNREACH */
#define ICMP_TIME_EXCEEDED 11
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_TIME_EXCEED 3
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

#define ICMP_HLEN 8
/* Offsets of the ICMP header, the quoted IP header and the quoted TCP header, per family. */
#define ICMP4_OFF (L3_OFF + sizeof(struct iphdr))
#define ICMP4_INNER_OFF (ICMP4_OFF + ICMP_HLEN)
#define ICMP4_TCP_OFF (ICMP4_INNER_OFF + sizeof(struct iphdr))
#define ICMP6_OFF (L3_OFF + sizeof(struct ipv6hdr))
#define ICMP6_INNER_OFF (ICMP6_OFF + ICMP_HLEN)
#define ICMP6_TCP_OFF (ICMP6_INNER_OFF + sizeof(struct ipv6hdr))
/* Quoted TCP bytes: ports and sequence number (the least an error quotes), + ack, the whole header. */
#define QUOTE_MIN 8
#define QUOTE_ACK 12
#define QUOTE_HDR 20

struct icmp_err {
	struct lb_ct_key key; /* the quoted packet's tuple reversed: a conntrack key */
	__u32 quoted;         /* quoted TCP bytes in the linear data (QUOTE_MIN at least) */
	__u8 too_big;         /* fragmentation needed / packet too big */
};

/* The quoted tuple reversed into k, from addresses of `alen` bytes at saddr/daddr and the TCP ports at th. */
static __always_inline void icmp_key(struct lb_ct_key *k, const void *saddr, const void *daddr, __u32 alen,
				     const struct tcphdr *th, __u8 family)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, daddr, alen);
	__builtin_memcpy(k->daddr, saddr, alen);
	k->sport = th->dest;
	k->dport = th->source;
	k->proto = LB_PROTO_TCP;
	k->family = family;
}

/*
 * Pull what can be rewritten into the linear data: the quoted TCP header when present, else what there is.
 * Returns the quoted TCP bytes available from tcp_off (at least QUOTE_MIN), or 0.
 */
static __always_inline __u32 icmp_pull(struct __sk_buff *skb, __u32 tcp_off, __u32 l3_end)
{
	__u32 end = skb->len < l3_end ? skb->len : l3_end;

	if (end > tcp_off + QUOTE_HDR)
		end = tcp_off + QUOTE_HDR;
	if (end < tcp_off + QUOTE_MIN || pkt_pull(skb, end))
		return 0;
	return end - tcp_off;
}

/* An ICMPv4 error quoting IPv4/TCP: fills q; 0 or -1 (not one). skb->protocol is IPv4. */
static __always_inline int icmp4_parse(struct __sk_buff *skb, struct icmp_err *q)
{
	void *data, *end;
	struct iphdr *ip, *in;
	__u8 *icmp;
	struct tcphdr *th;

	if (pkt_pull(skb, ICMP4_OFF + ICMP_HLEN))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip = data + L3_OFF;
	icmp = data + ICMP4_OFF;
	if ((void *)(icmp + ICMP_HLEN) > end)
		return -1;
	if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_ICMP || (ip->frag_off & bpf_htons(0x3fff)))
		return -1;
	if (icmp[0] != ICMP_DEST_UNREACH && icmp[0] != ICMP_TIME_EXCEEDED)
		return -1;
	q->too_big = icmp[0] == ICMP_DEST_UNREACH && icmp[1] == ICMP_FRAG_NEEDED;
	q->quoted = icmp_pull(skb, ICMP4_TCP_OFF, L3_OFF + bpf_ntohs(ip->tot_len));
	if (!q->quoted)
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	in = data + ICMP4_INNER_OFF;
	th = data + ICMP4_TCP_OFF;
	if ((void *)th + QUOTE_MIN > end)
		return -1;
	/* A quoted non-first fragment has no ports. */
	if (in->version != 4 || in->ihl != 5 || in->protocol != IPPROTO_TCP || (in->frag_off & bpf_htons(0x1fff)))
		return -1;
	icmp_key(&q->key, &in->saddr, &in->daddr, 4, th, LB_FAMILY_V4);
	return 0;
}

/* An ICMPv6 error quoting IPv6/TCP: fills q; 0 or -1 (not one). skb->protocol is IPv6. */
static __always_inline int icmp6_parse(struct __sk_buff *skb, struct icmp_err *q)
{
	void *data, *end;
	struct ipv6hdr *ip6, *in;
	__u8 *icmp;
	struct tcphdr *th;

	if (pkt_pull(skb, ICMP6_OFF + ICMP_HLEN))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip6 = data + L3_OFF;
	icmp = data + ICMP6_OFF;
	if ((void *)(icmp + ICMP_HLEN) > end)
		return -1;
	if (ip6->version != 6 || ip6->nexthdr != IPPROTO_ICMPV6)
		return -1;
	if (icmp[0] != ICMPV6_DEST_UNREACH && icmp[0] != ICMPV6_PKT_TOOBIG && icmp[0] != ICMPV6_TIME_EXCEED)
		return -1;
	q->too_big = icmp[0] == ICMPV6_PKT_TOOBIG;
	q->quoted = icmp_pull(skb, ICMP6_TCP_OFF, ICMP6_OFF + bpf_ntohs(ip6->payload_len));
	if (!q->quoted)
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	in = data + ICMP6_INNER_OFF;
	th = data + ICMP6_TCP_OFF;
	if ((void *)th + QUOTE_MIN > end)
		return -1;
	if (in->version != 6 || in->nexthdr != IPPROTO_TCP)
		return -1;
	icmp_key(&q->key, &in->saddr, &in->daddr, 16, th, LB_FAMILY_V6);
	return 0;
}

/* What the quoted packet's TCP numbers and the reported MTU become (see the top of the file). */
struct icmp_xlate {
	struct lb_ct_key peer;
	__u32 svc_id;
	__u32 flags;
	__u32 isn;
	__u32 len;   /* PPv2 header length */
	__u8 to_client; /* the quoted packet went to the backend: the error goes to the client */
};

/* The quoted client -> backend sequence number, in the client's space (the header bytes map to ISN+1). */
static __always_inline __u32 icmp_seq_to_client(const struct icmp_xlate *x, __u32 seq)
{
	return ack_to_client(seq, x->isn, (x->flags & LB_CT_F_PPV2) ? x->len : 0);
}

/* The quoted backend -> client acknowledgment, in the backend's space: the reverse of handle_reply's. */
static __always_inline __u32 icmp_ack_to_backend(const struct icmp_xlate *x, __u32 ack)
{
	if ((x->flags & (LB_CT_F_PPV2 | LB_CT_F_HDR_SENT)) == (LB_CT_F_PPV2 | LB_CT_F_HDR_SENT) &&
	    seq_after(ack, x->isn + 1))
		return ack + x->len;
	return ack;
}

/*
 * Rewrite the quoted TCP header's first words (ports, sequence or acknowledgment number) and, when the
 * whole header is quoted, its checksum; `inner_pseudo` is the quoted addresses' change, `quoted` the quoted
 * TCP bytes by the IP lengths, `end` the linear data's end. Returns the change of the ICMP payload's sum
 * due to these words. *mtu_cut: how much lower an MTU must be reported.
 */
static __always_inline __u64 icmp_fix_tcp(__u32 *w, void *end, __u32 quoted, const struct icmp_xlate *x,
					  __u64 inner_pseudo, __u32 *mtu_cut)
{
	__u32 ports, seq, nseq, ack, nack, old;
	__u64 acc = 0;
	__u16 *check;

	*mtu_cut = 0;
	if ((void *)(w + 2) > end)
		return 0;
	seq = bpf_ntohl(w[1]);
	nseq = seq;
	__builtin_memcpy(&ports, &x->peer.sport, 2);
	__builtin_memcpy((__u8 *)&ports + 2, &x->peer.dport, 2);
	if (x->to_client) {
		nseq = icmp_seq_to_client(x, seq);
		/* The header went in front of this segment: its retransmission will carry it again. */
		if ((x->flags & (LB_CT_F_PPV2 | LB_CT_F_HDR_SENT)) == (LB_CT_F_PPV2 | LB_CT_F_HDR_SENT) &&
		    seq == x->isn + 1)
			*mtu_cut = x->len;
	}
	acc = csum_acc(acc, w[0], ports);
	w[0] = ports;
	if (nseq != seq) {
		acc = csum_acc(acc, w[1], bpf_htonl(nseq));
		w[1] = bpf_htonl(nseq);
	}
	if (!x->to_client && quoted >= QUOTE_ACK && (void *)(w + 3) <= end) {
		ack = bpf_ntohl(w[2]);
		nack = icmp_ack_to_backend(x, ack);
		if (nack != ack) {
			acc = csum_acc(acc, w[2], bpf_htonl(nack));
			w[2] = bpf_htonl(nack);
		}
	}
	if (quoted >= QUOTE_HDR && (void *)(w + 5) <= end) {
		/* word 4: checksum and urgent pointer; the checksum also covers the quoted addresses */
		old = w[4];
		check = (__u16 *)&w[4];
		*check = csum_apply(*check, csum_acc_wsum(inner_pseudo + acc));
		acc = csum_acc(acc, old, w[4]);
	}
	return acc;
}

/*
 * Lower the reported MTU by *cut, unless that would take it to the family's minimum or below (a stack
 * ignores or clamps such a value); *cut is then 0. Returns the ICMP sum's change.
 */
static __always_inline __u64 icmp_fix_mtu(__u8 *icmp, __u8 family, __u32 *cut)
{
	__u32 old, mtu, min = family == LB_FAMILY_V4 ? 68 : 1280;
	__u64 acc;

	if (!*cut)
		return 0;
	/* ICMPv4: next-hop MTU in bytes 6-7 (bytes 4-5 unused); ICMPv6: bytes 4-7. Both in word 1. */
	__builtin_memcpy(&old, icmp + 4, 4);
	mtu = family == LB_FAMILY_V4 ? bpf_ntohl(old) & 0xffff : bpf_ntohl(old);
	if (mtu <= min + *cut) {
		*cut = 0;
		return 0;
	}
	mtu = family == LB_FAMILY_V4 ? (bpf_ntohl(old) & 0xffff0000) | (mtu - *cut) : mtu - *cut;
	acc = csum_acc(0, old, bpf_htonl(mtu));
	mtu = bpf_htonl(mtu);
	__builtin_memcpy(icmp + 4, &mtu, 4);
	return acc;
}

/* Rewrite addresses into 16 contiguous bytes (4 words) or 4 (1 word); returns the sum's change. */
static __always_inline __u64 icmp_set_addr(__u32 *w, const __u8 *addr, int words)
{
	const __u32 *nw = (const __u32 *)addr;
	__u64 acc = 0;

	for (int i = 0; i < words; i++) {
		acc = csum_acc(acc, w[i], nw[i]);
		w[i] = nw[i];
	}
	return acc;
}

/* IPv4: the whole rewrite. 0, or -1 when the packet is not there as parsed (it then passes untouched). */
static __always_inline int icmp4_rewrite(struct __sk_buff *skb, const struct icmp_xlate *x, __u32 quoted,
					 __u32 *cut_out)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + L3_OFF, *in = data + ICMP4_INNER_OFF;
	__u8 *icmp = data + ICMP4_OFF;
	__u32 *th = data + ICMP4_TCP_OFF;
	__u64 outer, inner, payload;
	__u32 cut;
	__u16 old_check;

	if ((void *)th + QUOTE_MIN > end)
		return -1;
	/* Outer: from peer's destination to peer's source. */
	outer = icmp_set_addr(&ip->saddr, x->peer.daddr, 1);
	outer += icmp_set_addr(&ip->daddr, x->peer.saddr, 1);
	ip->check = csum_apply(ip->check, csum_acc_wsum(outer));
	/* Quoted: peer itself. */
	inner = icmp_set_addr(&in->saddr, x->peer.saddr, 1);
	inner += icmp_set_addr(&in->daddr, x->peer.daddr, 1);
	old_check = in->check;
	in->check = csum_apply(in->check, csum_acc_wsum(inner));
	payload = inner + (__u16)~old_check + in->check;
	payload += icmp_fix_tcp(th, end, quoted, x, inner, &cut);
	if (icmp[1] == ICMP_FRAG_NEEDED && icmp[0] == ICMP_DEST_UNREACH)
		payload += icmp_fix_mtu(icmp, LB_FAMILY_V4, &cut);
	else
		cut = 0;
	*(__u16 *)(icmp + 2) = csum_apply(*(__u16 *)(icmp + 2), csum_acc_wsum(payload));
	*cut_out = cut;
	return 0;
}

/* IPv6: the whole rewrite, as icmp4_rewrite. The ICMPv6 checksum also covers the outer addresses. */
static __always_inline int icmp6_rewrite(struct __sk_buff *skb, const struct icmp_xlate *x, __u32 quoted,
					 __u32 *cut_out)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + L3_OFF, *in = data + ICMP6_INNER_OFF;
	__u8 *icmp = data + ICMP6_OFF;
	__u32 *th = data + ICMP6_TCP_OFF;
	__u64 sum, inner;
	__u32 cut;

	if ((void *)th + QUOTE_MIN > end)
		return -1;
	sum = icmp_set_addr((__u32 *)&ip6->saddr, x->peer.daddr, 4);
	sum += icmp_set_addr((__u32 *)&ip6->daddr, x->peer.saddr, 4);
	inner = icmp_set_addr((__u32 *)&in->saddr, x->peer.saddr, 4);
	inner += icmp_set_addr((__u32 *)&in->daddr, x->peer.daddr, 4);
	sum += inner;
	sum += icmp_fix_tcp(th, end, quoted, x, inner, &cut);
	if (icmp[0] == ICMPV6_PKT_TOOBIG)
		sum += icmp_fix_mtu(icmp, LB_FAMILY_V6, &cut);
	else
		cut = 0;
	*(__u16 *)(icmp + 2) = csum_apply(*(__u16 *)(icmp + 2), csum_acc_wsum(sum));
	*cut_out = cut;
	return 0;
}

/*
 * Per-CPU work area: the parsed error and the translation, whose forwarding key waits there for
 * icmp_handle. On the stack they would make icmp_translate's frame too big to sit next to the main
 * program's (together at most 512 bytes). A tc program never runs nested on one CPU.
 */
struct icmp_work {
	struct icmp_err q;
	struct icmp_xlate x;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct icmp_work);
} lb_icmp_work SEC(".maps");

#define ICMP_PASS 0
#define ICMP_FORWARD 1

/*
 * The translation after parsing: look the quoted packet up, rewrite, count. ICMP_FORWARD with the forwarding
 * key left in w->x, or ICMP_PASS with the packet as it was.
 */
static __always_inline int icmp_translate(struct __sk_buff *skb, struct icmp_work *w, const __u8 family)
{
	struct icmp_xlate *x = &w->x;
	struct lb_ct_entry *e;
	__u32 cut = 0;
	int err;

	e = ct_lookup(&w->q.key);
	if (!e)
		return ICMP_PASS;
	__builtin_memcpy(&x->peer, &e->peer, sizeof(x->peer));
	x->svc_id = e->svc_id;
	x->flags = e->flags;
	x->isn = e->client_isn;
	x->len = e->ppv2_len;
	x->to_client = e->kind == LB_CT_KIND_REPLY;
	if (family == LB_FAMILY_V4)
		err = icmp4_rewrite(skb, x, w->q.quoted, &cut);
	else
		err = icmp6_rewrite(skb, x, w->q.quoted, &cut);
	if (err)
		return ICMP_PASS;
	stat_inc(x->svc_id, LB_CNT_ICMP_TRANSLATED);
	if (w->q.too_big)
		stat_inc(x->svc_id, LB_CNT_ICMP_TOO_BIG);
	if (cut)
		stat_inc(x->svc_id, LB_CNT_ICMP_MTU_LOWERED);
	return ICMP_FORWARD;
}

/*
 * One function per family, each with its own stack frame next to the main program's (together at most
 * 512 bytes): one function for both would need the frame of both.
 */
static __attribute__((noinline)) int icmp4_translate(struct __sk_buff *skb, struct icmp_work *w)
{
	if (!w || icmp4_parse(skb, &w->q))
		return ICMP_PASS;
	return icmp_translate(skb, w, LB_FAMILY_V4);
}

static __attribute__((noinline)) int icmp6_translate(struct __sk_buff *skb, struct icmp_work *w)
{
	if (!w || icmp6_parse(skb, &w->q))
		return ICMP_PASS;
	return icmp_translate(skb, w, LB_FAMILY_V6);
}

/*
 * A packet parse_pkt did not take (not TCP, or not TCP as parsed there). An ICMP error about a tracked
 * connection is translated and forwarded; anything else passes untouched (TC_ACT_OK).
 */
static __always_inline int icmp_handle(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct icmp_work *w = bpf_map_lookup_elem(&lb_icmp_work, &zero);
	int rc;

	if (!w)
		return TC_ACT_OK;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		rc = icmp4_translate(skb, w);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		rc = icmp6_translate(skb, w);
	else
		return TC_ACT_OK;
	if (rc != ICMP_FORWARD)
		return TC_ACT_OK;
	return fib_forward(skb, &w->x.peer, w->x.svc_id, bpf_ktime_get_ns());
}

#endif /* LBCTL_ICMP_H */

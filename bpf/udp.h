/* SPDX-License-Identifier: MIT */
/*
 * UDP services. A flow is the client's (address, port) towards VIP:port: its first datagram picks a backend
 * (Maglev, as a TCP SYN does) and creates the same pair of conntrack entries as a TCP connection, in state
 * LB_CT_UDP, idle-expired by the janitor after lb_config.timeout_udp_s. Replies go back to the client from
 * VIP:port. No handshake, no sequence space: every datagram is translated on its own.
 *
 * PROXY v2 (DESIGN.md fact 12): every client -> backend datagram carries its own header, in the same datagram
 * as the payload, with family byte 0x12 (INET, DGRAM) or 0x22 (INET6, DGRAM). The header is the TCP one
 * (ppv2_build: UNIQUE_ID per flow, CRC32C computed per header, the service's TLVs) and goes in the same way
 * (ppv2_insert: grow at the tail, move the payload back, header into the gap, lengths and checksum fixed
 * incrementally), so the UDP header stays where a CHECKSUM_PARTIAL skb's csum_start points. Replies carry
 * no header.
 *
 * Too big: a datagram that would exceed its route's MTU once the header is in is dropped before anything is
 * changed, counted (drop_udp_too_big) and reported as a failure event. It is never fragmented: eBPF cannot
 * fragment, and a receiver reading PROXY headers per datagram would first need a reassembly that is
 * routinely filtered; nor answered with ICMP (see README, Limits).
 */
#ifndef LBCTL_UDP_H
#define LBCTL_UDP_H

#include "nat.h"
#include "fib.h"
#include "ppv2.h"
#include "conntrack.h"

static __always_inline __u32 ip_hdr_len(const struct pkt *p)
{
	return p->family == LB_FAMILY_V4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
}

/*
 * The flow's rewrite, as a function of its own: inlined into the UDP paths, clang keeps the packet pointers
 * in 32-bit registers across the conntrack updates and the verifier loses track of them.
 */
static __attribute__((noinline)) int udp_rewrite(struct __sk_buff *skb, const struct pkt *p,
						 const struct lb_ct_key *peer)
{
	return nat_rewrite(skb, p, peer, 0, 0);
}

/*
 * Put the flow's header in front of this datagram's payload. 0 when the datagram may go on (re-parsed), -1
 * to drop it (counted).
 */
static __always_inline int udp_ppv2_inject(struct __sk_buff *skb, struct pkt *p, struct lb_ct_entry *e, __u64 now)
{
	__u32 zero = 0, svc_id = e->svc_id, n = e->ppv2_len;
	struct ppv2_scratch *s;
	struct lb_ct_key peer;
	int err;

	/* A GSO packet is several datagrams: each would need its own header. */
	if (skb->gso_size) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_TOO_BIG, &p->tuple);
		return -1;
	}
	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	if (!fib_fits(skb, &peer, ip_hdr_len(p) + p->tcp_len + n, now)) {
		fail_event(svc_id, LB_CNT_DROP_UDP_TOO_BIG, &p->tuple);
		return -1;
	}
	n = ppv2_prepare(&p->tuple);
	if (!n)
		return -1;
	err = ppv2_insert(skb, (__u32)LB_PROTO_UDP << 16 | p->l4_off << 8 | p->thl, p->payload_len,
			  n | (__u32)p->family << 16, svc_id);
	if (err) {
		fail_event(svc_id, err, &p->tuple);
		return -1;
	}
	stat_inc(svc_id, LB_CNT_PPV2_UDP_INJECTED);
	if (!(e->flags & LB_CT_F_HDR_SENT)) /* for `conn list`; written once, not per datagram */
		ct_flags_set(e, LB_CT_F_HDR_SENT);
	s = bpf_map_lookup_elem(&lb_scratch, &zero);
	if (s)
		ppv2_event(LB_EV_HDR_INJECTED, svc_id, &p->tuple, s, n);
	return parse_pkt(skb, p);
}

/* Client -> backend: the header when the service has PPv2, then the flow's rewrite. */
static __always_inline int udp_orig(struct __sk_buff *skb, struct pkt *p, struct lb_ct_entry *e)
{
	__u32 svc_id = e->svc_id;
	__u64 bytes = skb->len, now = bpf_ktime_get_ns();
	struct lb_ct_key peer;

	if ((e->flags & LB_CT_F_PPV2) && udp_ppv2_inject(skb, p, e, now))
		return TC_ACT_SHOT;
	e->last_seen_ns = now;
	e->packets_orig++;
	e->bytes_orig += bytes;
	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	if (udp_rewrite(skb, p, &peer)) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &p->tuple);
		return TC_ACT_SHOT;
	}
	stat_packet(svc_id, LB_CNT_FWD_PACKETS, bytes);
	return fib_forward(skb, &peer, svc_id, now);
}

/* Backend -> client: `r` is the REPLY entry (it counts this direction itself, LB_CT_F_MIRROR). Headerless. */
static __always_inline int udp_reply(struct __sk_buff *skb, struct pkt *p, struct lb_ct_entry *r)
{
	__u32 svc_id = r->svc_id;
	__u64 bytes = skb->len, now = bpf_ktime_get_ns();
	struct lb_ct_key orig;

	__builtin_memcpy(&orig, &r->peer, sizeof(orig));
	r->last_seen_ns = now;
	r->packets_reply++;
	r->bytes_reply += bytes;
	if (udp_rewrite(skb, p, &orig)) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &orig);
		return TC_ACT_SHOT;
	}
	stat_packet(svc_id, LB_CNT_REV_PACKETS, bytes);
	return fib_forward(skb, &orig, svc_id, now);
}

/*
 * A UDP datagram: a tracked flow's (either direction), a new flow's first datagram to a service, or none of
 * the balancer's business. A full conntrack table drops the datagram (counted): UDP has no reset to send.
 */
static __always_inline int udp_ingress(struct __sk_buff *skb, struct pkt *p)
{
	struct lb_service *svc;
	struct lb_ct_entry *e = ct_lookup(&p->tuple);
	int table_full = 0;

	if (e)
		return e->kind == LB_CT_KIND_REPLY ? udp_reply(skb, p, e) : udp_orig(skb, p, e);
	svc = service_lookup(&p->tuple);
	if (!svc)
		return TC_ACT_OK;
	e = ct_create(p, svc, &table_full);
	if (!e)
		return TC_ACT_SHOT;
	return udp_orig(skb, p, e);
}

/*
 * While detach holds or drains the datapath: UDP has nothing to close, so a service's or a tracked flow's
 * datagrams are dropped (counted) in both modes; anything else passes.
 */
static __always_inline int udp_detaching(struct __sk_buff *skb, struct pkt *p)
{
	struct lb_ct_entry *e = ct_lookup(&p->tuple);
	struct lb_service *svc;

	if (e) {
		stat_inc(e->svc_id, LB_CNT_DROP_DETACHING);
		return TC_ACT_SHOT;
	}
	svc = service_lookup(&p->tuple);
	if (!svc)
		return TC_ACT_OK;
	stat_inc(svc->id, LB_CNT_DROP_DETACHING);
	return TC_ACT_SHOT;
}

#endif /* LBCTL_UDP_H */

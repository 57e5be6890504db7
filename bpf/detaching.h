/* SPDX-License-Identifier: MIT */
/*
 * What the datapath does while `lbctl detach` takes it away from live
 * connections (lb_config.flags). Without it, their packets would meet the
 * balancer namespace's own stack, which resets the backend on its next segment
 * and leaves a client that is only waiting for data hanging until its timeout.
 *
 *  - HOLD (detach --keep-maps): packets of services and tracked connections
 *    are dropped and counted. TCP retransmits them after attach clears the
 *    flag, so connections survive a maintenance window shorter than their
 *    retransmission limits, and new clients' SYNs are retried by their stacks.
 *
 *  - DRAIN (detach that removes the maps): a packet of a tracked connection
 *    that carries no payload becomes two resets: one reflected to its sender
 *    (sequence number = the packet's acknowledgment, exactly what the sender
 *    expects next) and one forwarded to the peer through the normal path
 *    (translated like any packet, so it lands on the peer's expected sequence
 *    number when nothing is in flight; otherwise the peer's challenge ACK meets
 *    this same code). Payload-carrying packets are dropped: turning them into
 *    resets would mean trimming payload whose checksum share is unknown under
 *    CHECKSUM_PARTIAL. The control plane provokes a payload-free packet from
 *    every live connection's client by sending it an out-of-window ACK, which
 *    TCP answers with a duplicate ACK. A client SYN to a service is refused
 *    with a reset, so new connections fail fast instead of waiting.
 */
#ifndef LBCTL_DETACHING_H
#define LBCTL_DETACHING_H

#include "config.h"
#include "csum.h"
#include "stats.h"

#define TCP_FLAGS_OFF(p) ((p)->l4_off + 12) /* data offset + flags: one 16-bit word */

static __always_inline __u32 detaching_flags(void)
{
	struct lb_config *cfg = config_get();

	return cfg ? cfg->flags & (LB_CFG_F_HOLD | LB_CFG_F_DRAIN) : 0;
}

/*
 * Swap MAC addresses, IP addresses and ports: the packet turns back towards its
 * sender. No checksum changes: every sum covers the same words in another order.
 */
static __always_inline int turn_around(struct __sk_buff *skb, struct pkt *p)
{
	__u8 macs[12], swapped[12];
	__be16 ports[2], swapped_ports[2];
	struct lb_ct_key t;
	__u32 addr_off = p->family == LB_FAMILY_V4 ? L3_OFF + 12 : L3_OFF + 8;
	__u32 alen = p->family == LB_FAMILY_V4 ? 4 : 16;

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
		return -1;
	__builtin_memcpy(swapped, macs + 6, 6);
	__builtin_memcpy(swapped + 6, macs, 6);
	if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0))
		return -1;

	__builtin_memcpy(&t, &p->tuple, sizeof(t));
	addr_copy(p->tuple.saddr, t.daddr);
	addr_copy(p->tuple.daddr, t.saddr);
	p->tuple.sport = t.dport;
	p->tuple.dport = t.sport;
	if (alen == 4) {
		if (bpf_skb_store_bytes(skb, addr_off, p->tuple.saddr, 4, 0) ||
		    bpf_skb_store_bytes(skb, addr_off + 4, p->tuple.daddr, 4, 0))
			return -1;
	} else {
		if (bpf_skb_store_bytes(skb, addr_off, p->tuple.saddr, 16, 0) ||
		    bpf_skb_store_bytes(skb, addr_off + 16, p->tuple.daddr, 16, 0))
			return -1;
	}
	if (bpf_skb_load_bytes(skb, p->l4_off, ports, sizeof(ports)))
		return -1;
	swapped_ports[0] = ports[1];
	swapped_ports[1] = ports[0];
	return bpf_skb_store_bytes(skb, p->l4_off, swapped_ports, sizeof(swapped_ports), 0);
}

/* Write sequence and acknowledgment numbers (host order) and the TCP flags, keeping the sum right. */
static __always_inline int set_seq_ack_flags(struct __sk_buff *skb, struct pkt *p, __u32 seq, __u32 ack, __u8 flags)
{
	__be32 old_nums[2], new_nums[2] = { bpf_htonl(seq), bpf_htonl(ack) };
	__be16 old_word, new_word;
	__s64 diff;

	if (bpf_skb_load_bytes(skb, p->l4_off + 4, old_nums, sizeof(old_nums)) ||
	    bpf_skb_load_bytes(skb, TCP_FLAGS_OFF(p), &old_word, sizeof(old_word)))
		return -1;
	diff = bpf_csum_diff(old_nums, sizeof(old_nums), new_nums, sizeof(new_nums), 0);
	if (bpf_skb_store_bytes(skb, p->l4_off + 4, new_nums, sizeof(new_nums), 0) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), 0, diff, 0))
		return -1;
	/* The first byte holds the data offset: keep it, replace the flag bits (CWR and ECE included). */
	new_word = (old_word & bpf_htons(0xff00)) | bpf_htons(flags);
	if (bpf_skb_store_bytes(skb, TCP_FLAGS_OFF(p), &new_word, sizeof(new_word), 0) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old_word, new_word, sizeof(new_word)))
		return -1;
	p->seq = seq;
	p->ack = ack;
	p->tcp_flags = flags;
	return 0;
}

/*
 * Turn this payload-free packet into a reset back to its sender: sequence number = the packet's
 * acknowledgment, and it acknowledges the packet. 0 on success.
 */
static __always_inline int reflect_reset(struct __sk_buff *skb, struct pkt *p)
{
	__u32 flags = p->tcp_flags;
	__u32 seg_len = (flags & TCP_FLAG_SYN ? 1 : 0) + (flags & TCP_FLAG_FIN ? 1 : 0);
	/* Without an ACK (a SYN), the reset acknowledges the segment instead and carries sequence 0 (RFC 9293). */
	__u32 back_seq = (flags & TCP_FLAG_ACK) ? p->ack : 0;

	if (turn_around(skb, p))
		return -1;
	return set_seq_ack_flags(skb, p, back_seq, p->seq + seg_len, TCP_FLAG_RST | TCP_FLAG_ACK);
}

/*
 * Send a reset back to the sender of this payload-free packet, through the
 * interface it came in on, and leave the packet as a reset from the sender to
 * its peer with its original numbers. 0 on success.
 */
static __always_inline int reset_both_ways(struct __sk_buff *skb, struct pkt *p)
{
	__u32 seq = p->seq, ack = p->ack;

	if (reflect_reset(skb, p))
		return -1;
	if (bpf_clone_redirect(skb, skb->ifindex, 0))
		return -1;
	if (turn_around(skb, p) || set_seq_ack_flags(skb, p, seq, ack, TCP_FLAG_RST | TCP_FLAG_ACK))
		return -1;
	return 0;
}

#endif /* LBCTL_DETACHING_H */

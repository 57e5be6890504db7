/* SPDX-License-Identifier: MIT */
/*
 * Tuple rewriting. A packet of a tracked connection is rewritten to the reverse
 * of its peer key: client -> VIP becomes SNAT/client -> backend, backend ->
 * SNAT/client becomes VIP -> client. Sequence and acknowledgment numbers are
 * rewritten together with the ports.
 */
#ifndef LBCTL_NAT_H
#define LBCTL_NAT_H

#include "csum.h"

/*
 * Rewrite in place: addresses (and, for IPv4, the header checksum) and the first 12 bytes of the TCP
 * header (the ports of a UDP header), by direct packet access, then at most two checksum helper calls: the address change is a
 * pseudo-header change (BPF_F_PSEUDO_HDR), the port/sequence/acknowledgment change is not, and only the
 * kernel knows whether the skb is CHECKSUM_PARTIAL (then only the first one may touch th->check). Each is
 * skipped when nothing of its kind changed. The pulled headers stay linear: parse_pkt made them so.
 */
static __always_inline int nat_rewrite(struct __sk_buff *skb, const struct pkt *p, const struct lb_ct_key *peer,
				       __u32 seq, __u32 ack)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 new_ports = ((__u32)peer->sport << 16) | peer->dport; /* bytes: new sport (= peer dport), new dport */
	__u32 new_seq = bpf_htonl(seq), new_ack = bpf_htonl(ack);
	__u64 pseudo = 0, l4 = 0;
	__u32 *w, *nw;
	struct tcphdr *th;

	if (p->family == LB_FAMILY_V4) {
		struct iphdr *ip = data + L3_OFF;
		__u32 ns, nd;

		th = data + L3_OFF + sizeof(struct iphdr);
		if ((void *)((struct udphdr *)th + 1) > end) /* the ports; the TCP rest is checked below */
			return -1;
		__builtin_memcpy(&ns, peer->daddr, 4);
		__builtin_memcpy(&nd, peer->saddr, 4);
		if (ip->saddr != ns || ip->daddr != nd) {
			pseudo = csum_acc(csum_acc(0, ip->saddr, ns), ip->daddr, nd);
			ip->saddr = ns;
			ip->daddr = nd;
			ip->check = csum_apply(ip->check, csum_acc_wsum(pseudo));
		}
	} else {
		struct ipv6hdr *ip6 = data + L3_OFF;

		th = data + L3_OFF + sizeof(struct ipv6hdr);
		if ((void *)((struct udphdr *)th + 1) > end) /* the ports; the TCP rest is checked below */
			return -1;
		if (!addr_eq(p->tuple.saddr, peer->daddr) || !addr_eq(p->tuple.daddr, peer->saddr)) {
			w = (__u32 *)&ip6->saddr; /* saddr and daddr: 8 contiguous words */
			for (int i = 0; i < 4; i++) {
				nw = (__u32 *)peer->daddr;
				pseudo = csum_acc(pseudo, w[i], nw[i]);
				w[i] = nw[i];
				nw = (__u32 *)peer->saddr;
				pseudo = csum_acc(pseudo, w[i + 4], nw[i]);
				w[i + 4] = nw[i];
			}
		}
	}
	w = (__u32 *)th;
	if (w[0] != new_ports) {
		l4 = csum_acc(l4, w[0], new_ports);
		w[0] = new_ports;
	}
	if (is_udp(p)) /* ports only; the UDP header is 8 bytes */
		goto csum;
	if ((void *)(th + 1) > end)
		return -1;
	if (w[1] != new_seq) {
		l4 = csum_acc(l4, w[1], new_seq);
		w[1] = new_seq;
	}
	if (w[2] != new_ack) {
		l4 = csum_acc(l4, w[2], new_ack);
		w[2] = new_ack;
	}
csum:
	/* helpers below invalidate the packet pointers: no direct access after this point */
	if (pseudo && l4_pseudo_replace(skb, p, 0, csum_acc_wsum(pseudo), 0))
		return -1;
	if (l4 && l4_csum_add(skb, p, 0, csum_acc_wsum(l4), 0))
		return -1;
	return 0;
}

#endif /* LBCTL_NAT_H */

/* SPDX-License-Identifier: MIT */
/*
 * TCP option rewriting for PPv2 connections, on backend -> client segments:
 *  - SACK block edges are acknowledgment-space values: shift them like the ACK;
 *  - the MSS option of the SYN-ACK is lowered by the header length, so that the
 *    client's first full-sized segment still fits the MTU once the header is in,
 *    and capped at PPV2_MAX_FIRST_PAYLOAD, the most payload the insertion can move
 *    (only links with an MTU above ~9 KB have a larger MSS), so that no first
 *    segment is ever too big to take the header.
 * Options are read and written in the packet with bpf_skb_load/store_bytes at
 * variable offsets (no stack indexing: the verifier can then merge the states of
 * the option walk), and each changed field is folded into the checksum. A field
 * at an odd offset within the TCP header contributes to the 16-bit sum with its
 * bytes pairwise swapped, so the values handed to bpf_l4_csum_replace are swapped too.
 */
#ifndef LBCTL_TCP_OPTS_H
#define LBCTL_TCP_OPTS_H

#include "csum.h"
#include "ppv2.h"

#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_SACK 5
#define TCP_OPTS_MAX 40

#define OPTS_SACK_SHIFTED 1
#define OPTS_MSS_CLAMPED 2

/*
 * Backend acknowledgment space -> client space: the N header bytes map to the
 * client's ISN+1. Values at or before ISN+1 are unchanged, values inside the
 * header become ISN+1, later ones lose N. Written without branches: it runs for
 * up to 8 SACK edges per segment, and branches there multiply verifier states.
 */
static __always_inline __u32 ack_to_client(__u32 a, __u32 isn, __u32 shift)
{
	__u32 d = a - (isn + 1);
	__u32 nonzero = ((d | (0U - d)) >> 31) & 1;
	__u32 after = nonzero & ~(d >> 31);                          /* seq_after(a, isn + 1) */
	__u32 below = (__u32)(((__u64)d - (__u64)shift) >> 63);     /* d < shift */
	__u32 back = shift + ((d - shift) & (0U - below));          /* min(d, shift) */

	return a - (back & (0U - after));
}

/* Swap the bytes of each 16-bit half: the checksum view of a field at an odd offset. */
static __always_inline __u32 csum_odd32(__u32 v, __u32 odd)
{
	return odd ? ((v & 0x00ff00ff) << 8) | ((v >> 8) & 0x00ff00ff) : v;
}

/* Rewrite one 32-bit SACK edge at packet offset `off` (TCP header at l4_off). */
static __always_inline int sack_edge_fix(struct __sk_buff *skb, __u32 l4_off, __u32 off, __u32 isn, __u32 shift)
{
	__u32 old_raw, new_raw;

	if (bpf_skb_load_bytes(skb, off, &old_raw, 4))
		return -1;
	new_raw = bpf_htonl(ack_to_client(bpf_ntohl(old_raw), isn, shift));
	if (new_raw == old_raw)
		return 0;
	if (bpf_skb_store_bytes(skb, off, &new_raw, 4, 0))
		return -1;
	return bpf_l4_csum_replace(skb, l4_off + 16, csum_odd32(old_raw, (off - l4_off) & 1),
				   csum_odd32(new_raw, (off - l4_off) & 1), 4);
}

/*
 * Shift SACK blocks (when `shift` is set) and lower the MSS by `mss_reduce`
 * (when set). Returns OPTS_* bits for what changed, or -1 on a helper failure.
 *
 * l4_off_thl: TCP header offset << 8 | TCP header length (BPF calls take 5 arguments).
 * A global function: the verifier checks it once, on its own, instead of once
 * per path that reaches it.
 */
__attribute__((noinline)) int tcp_opts_fix(struct __sk_buff *skb, __u32 l4_off_thl, __u32 isn, __u32 shift,
					   __u32 mss_reduce)
{
	__u32 l4_off = l4_off_thl >> 8;
	__u32 end = l4_off + (l4_off_thl & 0xff);
	__u32 i = l4_off + sizeof(struct tcphdr);
	int changed = 0;

	for (int n = 0; n < TCP_OPTS_MAX; n++) {
		__u8 kl[2];

		if (i >= end)
			break;
		if (bpf_skb_load_bytes(skb, i, kl, 1))
			return -1;
		if (kl[0] == TCP_OPT_EOL)
			break;
		if (kl[0] == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 2 > end || bpf_skb_load_bytes(skb, i, kl, 2))
			break;
		if (kl[1] < 2 || i + kl[1] > end)
			break;
		if (kl[0] == TCP_OPT_MSS && kl[1] == 4 && mss_reduce) {
			__u16 old_raw, new_raw, mss, want;

			if (bpf_skb_load_bytes(skb, i + 2, &old_raw, 2))
				return -1;
			mss = bpf_ntohs(old_raw);
			want = mss > mss_reduce + 88 ? mss - mss_reduce : mss;
			if (want > PPV2_MAX_FIRST_PAYLOAD)
				want = PPV2_MAX_FIRST_PAYLOAD;
			if (want != mss) {
				__u32 odd = (i + 2 - l4_off) & 1;

				new_raw = bpf_htons(want);
				if (bpf_skb_store_bytes(skb, i + 2, &new_raw, 2, 0))
					return -1;
				if (bpf_l4_csum_replace(skb, l4_off + 16, odd ? bpf_ntohs(old_raw) : old_raw,
							odd ? bpf_ntohs(new_raw) : new_raw, 2))
					return -1;
				changed |= OPTS_MSS_CLAMPED;
			}
		} else if (kl[0] == TCP_OPT_SACK && shift) {
			__u32 blocks = (kl[1] - 2) / 8;

			for (__u32 b = 0; b < 4; b++) {
				__u32 off = i + 2 + b * 8;

				if (b >= blocks)
					break;
				if (sack_edge_fix(skb, l4_off, off, isn, shift) ||
				    sack_edge_fix(skb, l4_off, off + 4, isn, shift))
					return -1;
				changed |= OPTS_SACK_SHIFTED;
			}
		}
		i += kl[1];
	}
	return changed;
}

#endif /* LBCTL_TCP_OPTS_H */

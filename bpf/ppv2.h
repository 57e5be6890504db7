/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol v2 header: building it, and inserting it at the start of the
 * client's byte stream.
 *
 * Header layout built here (fixed order, so a re-injection repeats the bytes):
 *   16 bytes   signature, 0x21 (v2, PROXY), 0x11/0x21 (TCP over INET/INET6), length
 *   12 / 36    client address, VIP, client port, VIP port
 *   [19]       PP2_TYPE_UNIQUE_ID (0x05), 16 bytes: boot id + connection sequence
 *   [7]        PP2_TYPE_CRC32C (0x03), computed over the whole header with the value zeroed
 *   [0..128]   the service's pre-encoded custom TLVs
 *   [3]        PP2_TYPE_NOOP (0x04) with no value, when needed to make the length even
 * The length N is even so that the payload behind it keeps its 16-bit alignment
 * and the TCP checksum only needs the sum of the inserted bytes. (A PROXY v1 line,
 * proxy_v1.h, goes through the same insertion and may be odd: see csum_fix_odd_shift.)
 *
 * Insertion. bpf_skb_adjust_room(BPF_ADJ_ROOM_NET) opens room between the IP and
 * TCP headers by moving the bytes *in front of* the offset; skb->transport_header
 * and, for CHECKSUM_PARTIAL, skb->csum_start keep pointing at the old TCP
 * position (net/core/filter.c: bpf_skb_generic_push, bpf_skb_net_hdr_push).
 * Moving the TCP header into that room would leave csum_start N bytes too far:
 * whoever completes the checksum (a NIC, skb_checksum_help on a device without
 * tx checksumming, GSO segmentation) then sums and writes at the wrong place.
 * No helper can move csum_start, so the TCP header must stay where it is.
 * Instead the packet grows at the tail (bpf_skb_change_tail) and the payload is
 * moved back by N, in chunks, from the end; the header goes into the gap. This
 * is correct for CHECKSUM_PARTIAL, NONE and UNNECESSARY alike, at the cost of
 * copying the first segment's payload once per connection.
 *
 * GSO: bpf_skb_change_tail drops GSO state, so a GSO first segment is first cut
 * to its first gso_size bytes (the cut bytes are never acknowledged; the client
 * retransmits them). With the SYN-ACK MSS lowered by N, gso_size + N still fits
 * the MTU. LB_CNT_PPV2_GSO_TRIMMED counts this.
 */
#ifndef LBCTL_PPV2_H
#define LBCTL_PPV2_H

#include "csum.h"
#include "crc32c.h"
#include "events.h"

#define PP2_TYPE_CRC32C 0x03
#define PP2_TYPE_NOOP 0x04
#define PP2_TYPE_UNIQUE_ID 0x05
#define PP2_UNIQUE_ID_LEN 16

#define PPV2_BUF 256          /* header buffer, > LB_PPV2_MAX_LEN + 4 */
#define PPV2_COPY_CHUNK 256   /* payload moved per step */
#define PPV2_COPY_STEPS 36    /* => first segments up to 9216 payload bytes (jumbo frames) */
/* The most payload a first segment can have: the SYN-ACK's MSS is capped here (tcp_opts.h). */
#define PPV2_MAX_FIRST_PAYLOAD (PPV2_COPY_CHUNK * PPV2_COPY_STEPS)

struct ppv2_scratch {
	union {
		__u8 hdr[PPV2_BUF];
		struct crc32c_buf crc_view;
	};
	__u8 copy[PPV2_COPY_CHUNK + 4]; /* + zero padding for summing a chunk (odd-length headers) */
	struct lb_ct_entry ct_tmpl; /* conntrack entry under construction */
};

/* Per-CPU work area: the header, the copy buffer and a conntrack template do not fit the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ppv2_scratch);
} lb_scratch SEC(".maps");

static __always_inline __u32 ppv2_tlv_len(const struct lb_service *svc)
{
	__u32 n = svc->tlv_len;

	return n > LB_TLV_MAX ? LB_TLV_MAX : n;
}

/*
 * Header length for a service and family; fixed for the life of a connection. The rule and its pieces are
 * part of the ABI (src/bpf/abi.ts, ppv2HeaderLength): the control plane shows the same number.
 */
static __always_inline __u32 ppv2_len_for(const struct lb_service *svc, __u8 family)
{
	__u32 n = LB_PPV2_FIXED_LEN + (family == LB_FAMILY_V4 ? LB_PPV2_ADDR_LEN_V4 : LB_PPV2_ADDR_LEN_V6);

	if (svc->flags & LB_SVC_F_UNIQUE_ID)
		n += LB_PPV2_UNIQUE_ID_TLV_LEN;
	if (svc->flags & LB_SVC_F_CRC32C)
		n += LB_PPV2_CRC32C_TLV_LEN;
	n += ppv2_tlv_len(svc);
	if (n & 1)
		n += LB_PPV2_NOOP_TLV_LEN; /* keeps the payload moved behind the header 16-bit aligned */
	return n;
}

static __always_inline void put_tlv_hdr(__u8 *p, __u8 type, __u16 len)
{
	p[0] = type;
	p[1] = len >> 8;
	p[2] = len & 0xff;
}

/* ct flags recording the service's TLV choices at SYN time. */
static __always_inline __u8 ppv2_ct_flags(const struct lb_service *svc)
{
	return LB_CT_F_PPV2 | ((svc->flags & LB_SVC_F_UNIQUE_ID) ? LB_CT_F_UNIQUE_ID : 0) |
	       ((svc->flags & LB_SVC_F_CRC32C) ? LB_CT_F_CRC32C : 0);
}

/* The low nibble of the family/transport byte: 1 STREAM (TCP), 2 DGRAM (UDP). */
static __always_inline __u8 ppv2_transport(const struct lb_ct_key *client)
{
	return client->proto == LB_PROTO_UDP ? 0x02 : 0x01;
}

/* ppv2_build results besides the length */
#define PPV2_TLVS_AS_IS 0
#define PPV2_TLVS_NOOP 1 /* the custom TLVs no longer fit the length: a NOOP TLV stands in for them */

/*
 * Build a connection's header into s->hdr: exactly `n` bytes, the length fixed at SYN time (it is the
 * sequence shift, and the SYN-ACK's MSS was lowered by it). Everything but the custom TLVs comes from
 * conntrack: the addresses from the key, UNIQUE_ID and CRC32C as the service had them at SYN time
 * (ct_flags), the UNIQUE_ID value from the entry. The custom TLVs are the service's current ones when
 * they fill the rest of the n bytes exactly; when the service is gone (svc NULL) or its TLVs changed
 * size, a NOOP TLV of the same size stands in for them (*tlvs_out = PPV2_TLVS_NOOP). So a header can
 * always be built, and always with the length the stream was promised: a connection whose service was
 * deleted or reconfigured between its SYN and its first payload still gets its header, never a drop.
 * Returns n, or 0 if n is not a length this connection can have. The 4 bytes after it are zero.
 */
static __always_inline __u32 ppv2_build(struct ppv2_scratch *s, const struct lb_ct_key *client, __u32 ct_flags,
					__u32 n, const __u8 *unique_id, const struct lb_service *svc,
					__u32 *tlvs_out)
{
	__u8 *h = s->hdr;
	static const __u8 sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
	__u32 off, crc_off = 0, rest, tlvs = 0, pad = 0;

	if (n < 16 + 12 || n > LB_PPV2_MAX_LEN)
		return 0;
	__builtin_memcpy(h, sig, sizeof(sig));
	h[12] = 0x21; /* version 2, PROXY */
	h[14] = (n - 16) >> 8;
	h[15] = (n - 16) & 0xff;
	if (client->family == LB_FAMILY_V4) {
		h[13] = 0x10 | ppv2_transport(client); /* INET, STREAM or DGRAM */
		__builtin_memcpy(h + 16, client->saddr, 4);
		__builtin_memcpy(h + 20, client->daddr, 4);
		__builtin_memcpy(h + 24, &client->sport, 2);
		__builtin_memcpy(h + 26, &client->dport, 2);
		off = 28;
	} else {
		h[13] = 0x20 | ppv2_transport(client); /* INET6, STREAM or DGRAM */
		__builtin_memcpy(h + 16, client->saddr, 16);
		__builtin_memcpy(h + 32, client->daddr, 16);
		__builtin_memcpy(h + 48, &client->sport, 2);
		__builtin_memcpy(h + 50, &client->dport, 2);
		off = 52;
	}
	if (ct_flags & LB_CT_F_UNIQUE_ID) {
		put_tlv_hdr(h + off, PP2_TYPE_UNIQUE_ID, PP2_UNIQUE_ID_LEN);
		__builtin_memcpy(h + off + 3, unique_id, PP2_UNIQUE_ID_LEN);
		off += 3 + PP2_UNIQUE_ID_LEN;
	}
	if (ct_flags & LB_CT_F_CRC32C) {
		put_tlv_hdr(h + off, PP2_TYPE_CRC32C, 4);
		crc_off = off + 3;
		__builtin_memset(h + crc_off, 0, 4);
		off += 3 + 4;
	}
	if (off > 78 || n < off) /* never for n from ppv2_len_for; bounds the copies below for the verifier */
		return 0;
	rest = n - off; /* custom TLVs and NOOP padding */
	if (svc) {
		tlvs = ppv2_tlv_len(svc);
		pad = ((off + tlvs) & 1) ? 3 : 0;
	}
	if (svc && tlvs + pad == rest) {
		__builtin_memcpy(h + off, svc->tlvs, LB_TLV_MAX);
		off += tlvs;
		if (pad) {
			put_tlv_hdr(h + off, PP2_TYPE_NOOP, 0);
			off += 3;
		}
		*tlvs_out = PPV2_TLVS_AS_IS;
	} else if (rest) {
		if (rest < 3 || rest > LB_TLV_MAX + 3)
			return 0;
		put_tlv_hdr(h + off, PP2_TYPE_NOOP, rest - 3);
		__builtin_memset(h + off + 3, 0, LB_TLV_MAX);
		off += rest;
		*tlvs_out = PPV2_TLVS_NOOP;
	} else {
		*tlvs_out = svc && tlvs ? PPV2_TLVS_NOOP : PPV2_TLVS_AS_IS; /* TLVs added since the SYN: left out */
	}
	/* zero padding for the checksum sum, which works on 4-byte multiples */
	__builtin_memset(h + off, 0, 4);

	if (crc_off) {
		__u32 crc = bpf_htonl(crc32c(&s->crc_view, n));

		__builtin_memcpy(h + crc_off, &crc, 4);
	}
	return n;
}

/* A ones'-complement sum folded to 16 bits. */
static __always_inline __u32 csum_fold16(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u32)sum;
}

static __always_inline __u32 csum_swap16(__u32 sum)
{
	return ((sum & 0xff) << 8) | (sum >> 8);
}

/*
 * Moving payload by an odd number of bytes (a PROXY v1 line can have any length) puts every byte in the
 * other half of its 16-bit checksum word. A ones'-complement sum of byte-swapped data is the byte-swapped
 * sum, so a payload that summed to P at its old, even, offset sums to swap(P) at the new one: the checksum
 * gains swap(P) - P. P is summed from the payload's new place (`off`, `len` bytes), in chunks that each start
 * at an even distance from its start. Under CHECKSUM_PARTIAL bpf_l4_csum_replace ignores the difference:
 * the final bytes are summed later anyway. A global function, verified once, called by the main program
 * after ppv2_insert (whose stack it would not fit under).
 */
__attribute__((noinline)) int csum_fix_odd_shift(struct __sk_buff *skb, __u32 csum_off, __u32 off, __u32 len)
{
	__u32 zero = 0, folded;
	struct ppv2_scratch *s = bpf_map_lookup_elem(&lb_scratch, &zero);
	__u64 sum = 0;

	if (!s || len > PPV2_MAX_FIRST_PAYLOAD)
		return -1;
	/* Chunk i starts at i * PPV2_COPY_CHUNK, a constant per step: the verifier's paths stay one per step. */
	for (int i = 0; i < PPV2_COPY_STEPS; i++) {
		__u32 start = i * PPV2_COPY_CHUNK, c;
		__s64 part;

		if (start >= len)
			break;
		c = len - start;
		if (c > PPV2_COPY_CHUNK)
			c = PPV2_COPY_CHUNK;
		asm volatile("" : "+r"(c)); /* the compiler knows c >= 1 here, the verifier needs telling */
		if (c == 0 || c > PPV2_COPY_CHUNK)
			return -1;
		if (bpf_skb_load_bytes(skb, off + start, s->copy, c))
			return -1;
		__builtin_memset(s->copy + c, 0, 4); /* the sum takes 4-byte multiples */
		part = bpf_csum_diff(0, 0, (void *)s->copy, (c + 3) & ~3U, 0);
		if (part < 0)
			return -1;
		sum += part;
	}
	folded = csum_fold16(sum);
	return bpf_l4_csum_replace(skb, csum_off, 0, csum_fold16((__u64)csum_swap16(folded) + (0xffff & ~folded)), 0);
}

/*
 * Put the n header bytes held in lb_scratch at the start of this segment's
 * payload. Returns 0 or the failure counter; the caller re-parses the packet.
 * A global function (verified once), hence the packed scalar arguments:
 * l4_off_thl = [LB_PROTO_UDP << 16 |] TCP (UDP) offset << 8 | TCP header length (8 for UDP),
 * n_family_flags = n | family << 16 | TCP flags << 24.
 */
__attribute__((noinline)) int ppv2_insert(struct __sk_buff *skb, __u32 l4_off_thl, __u32 payload_len,
					  __u32 n_family_flags, __u32 svc_id)
{
	__u32 zero = 0, n = n_family_flags & 0xffff;
	struct ppv2_scratch *s = bpf_map_lookup_elem(&lb_scratch, &zero);
	struct pkt pk = {}, *p = &pk;
	__u32 payload_off, plen = payload_len;
	__u32 rem, new_tcp_len;
	int trimmed = 0;

	if (!s)
		return LB_CNT_PPV2_FAIL_WRITE;
	p->l4_off = (l4_off_thl >> 8) & 0xff;
	p->thl = l4_off_thl & 0xff;
	p->tuple.proto = l4_off_thl >> 16; /* LB_PROTO_UDP for a datagram (bpf/udp.h), else TCP */
	p->payload_len = payload_len;
	p->tcp_len = p->thl + payload_len;
	p->family = (n_family_flags >> 16) & 0xff;
	p->tcp_flags = n_family_flags >> 24;
	payload_off = p->l4_off + p->thl;

	if (n < 16 || n > LB_PPV2_MAX_LEN)
		return LB_CNT_PPV2_FAIL_WRITE;
	if (skb->gso_size && plen > skb->gso_size) {
		plen = skb->gso_size;
		trimmed = 1;
	}
	if (plen > PPV2_MAX_FIRST_PAYLOAD)
		return LB_CNT_PPV2_FAIL_TOO_BIG;
	/* Exact new length: also drops Ethernet padding and, when trimming, the cut bytes. */
	if (bpf_skb_change_tail(skb, payload_off + plen + n, 0))
		return LB_CNT_PPV2_FAIL_GROW;

	rem = plen;
	for (int i = 0; i < PPV2_COPY_STEPS; i++) {
		__u32 c = rem > PPV2_COPY_CHUNK ? PPV2_COPY_CHUNK : rem;
		__u32 from;

		if (c == 0)
			break;
		c &= 2 * PPV2_COPY_CHUNK - 1;
		if (c == 0 || c > PPV2_COPY_CHUNK)
			return LB_CNT_PPV2_FAIL_WRITE;
		from = payload_off + rem - c;
		if (bpf_skb_load_bytes(skb, from, s->copy, c))
			return LB_CNT_PPV2_FAIL_WRITE;
		if (bpf_skb_store_bytes(skb, from + n, s->copy, c, 0))
			return LB_CNT_PPV2_FAIL_WRITE;
		rem -= c;
	}
	if (rem)
		return LB_CNT_PPV2_FAIL_TOO_BIG;
	if (bpf_skb_store_bytes(skb, payload_off, s->hdr, n, 0))
		return LB_CNT_PPV2_FAIL_WRITE;

	new_tcp_len = p->thl + plen + n;
	if (set_tcp_len(skb, p, new_tcp_len))
		return LB_CNT_PPV2_FAIL_WRITE;
	if (csum_add_payload(skb, p, s->hdr, (n + 3) & ~3U))
		return LB_CNT_PPV2_FAIL_WRITE;
	if (trimmed) {
		/* A FIN belonged after the last byte, which is gone now. */
		if (p->tcp_flags & TCP_FLAG_FIN) {
			__u16 old_w, new_w;

			if (bpf_skb_load_bytes(skb, p->l4_off + 12, &old_w, 2))
				return LB_CNT_PPV2_FAIL_WRITE;
			new_w = old_w & ~bpf_htons(TCP_FLAG_FIN);
			if (bpf_skb_store_bytes(skb, p->l4_off + 12, &new_w, 2, 0) ||
			    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old_w, new_w, 2))
				return LB_CNT_PPV2_FAIL_WRITE;
			p->tcp_flags &= ~TCP_FLAG_FIN;
		}
		stat_inc(svc_id, LB_CNT_PPV2_GSO_TRIMMED);
	}
	return 0;
}

/* Report an inserted header, with its bytes, when events are on. */
static __always_inline void ppv2_event(__u16 type, __u32 svc_id, const struct lb_ct_key *client,
				       const struct ppv2_scratch *s, __u32 n)
{
	struct lb_event *ev = event_reserve(type, svc_id, client);

	if (!ev)
		return;
	ev->hdr_len = n;
	__builtin_memcpy(ev->hdr, s->hdr, LB_EVENT_HDR_MAX);
	bpf_ringbuf_submit(ev, 0);
}

#endif /* LBCTL_PPV2_H */

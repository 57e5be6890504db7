/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol v1 header: the text line
 *   "PROXY TCP4 192.0.2.1 203.0.113.10 51234 80\r\n"   (or TCP6 with IPv6 addresses)
 * written from the client's conntrack key (client address, VIP, client port, VIP port).
 *
 * Address text. IPv4 is the dotted quad without leading zeros (a leading zero reads as octal to some
 * parsers, and the spec forbids it). IPv6 is the RFC 5952 form that inet_ntop, HAProxy and nginx print:
 * lowercase hex groups without leading zeros, the longest run of two or more zero groups (the first on a
 * tie) written "::", and IPv4-mapped addresses as "::ffff:a.b.c.d". So the line is byte for byte what
 * src/ppv2's encodeV1 writes for the same connection, and what a backend logs is the address as users
 * write it.
 *
 * Length. The line's length depends on the address and port text; it is the connection's sequence shift,
 * so it is fixed when the SYN is seen: the datapath writes the line then (into the per-CPU scratch) and
 * records the length in conntrack, and writes it again, identical, whenever the header is (re)injected.
 * One writer, so the recorded length and the bytes can never disagree. The TS twin of the length rule is
 * proxyV1HeaderLength (src/bpf/abi.ts). The length may be odd: ppv2_insert fixes the checksum of payload
 * it moves by an odd number of bytes.
 */
#ifndef LBCTL_PROXY_V1_H
#define LBCTL_PROXY_V1_H

#include "ppv2.h"

/* Offsets into the header buffer are masked with this: in bounds for the verifier (PPV2_BUF is 256). */
#define PP1_OFF_MASK (PPV2_BUF - 1)

/*
 * Verifier cost. Each number's digit count is a branch on packet data, and the offset after it differs per
 * branch, so written inline the paths multiply (16 IPv6 groups of 1-4 digits: 4^16). The number writers
 * are global functions instead: each is verified once, and the offset they return is unknown to the
 * caller, so the paths through the caller merge again after every number.
 */
static __always_inline __u8 *pp1_buf(void)
{
	__u32 zero = 0;
	struct ppv2_scratch *s = bpf_map_lookup_elem(&lb_scratch, &zero);

	return s ? s->hdr : 0;
}

static __always_inline __u32 pp1_put_char(__u8 *h, __u32 off, __u8 c)
{
	h[off & PP1_OFF_MASK] = c;
	return off + 1;
}

/* `v` (< 100000) in decimal, no leading zeros, at `off` of the scratch header; returns the offset after it. */
__attribute__((noinline)) __u32 pp1_put_decimal(__u32 off, __u32 v)
{
	__u8 *h = pp1_buf();
	__u32 n = v >= 10000 ? 5 : v >= 1000 ? 4 : v >= 100 ? 3 : v >= 10 ? 2 : 1;

	if (!h)
		return off;
#pragma unroll
	for (int i = 4; i >= 0; i--) {
		if ((__u32)i < n) {
			h[(off + i) & PP1_OFF_MASK] = '0' + v % 10;
			v /= 10;
		}
	}
	return off + n;
}

/* A 16-bit group in lowercase hex, no leading zeros; returns the offset after it. */
__attribute__((noinline)) __u32 pp1_put_hex(__u32 off, __u32 v)
{
	__u8 *h = pp1_buf();
	__u32 n = v >= 0x1000 ? 4 : v >= 0x100 ? 3 : v >= 0x10 ? 2 : 1;

	if (!h)
		return off;
#pragma unroll
	for (int i = 3; i >= 0; i--) {
		if ((__u32)i < n) {
			__u32 d = v & 0xf;

			h[(off + i) & PP1_OFF_MASK] = d < 10 ? '0' + d : 'a' + d - 10;
			v >>= 4;
		}
	}
	return off + n;
}

static __always_inline __u32 pp1_put_ipv4(__u8 *h, __u32 off, const __u8 *a)
{
	off = pp1_put_decimal(off, a[0]);
#pragma unroll
	for (int i = 1; i < 4; i++) {
		off = pp1_put_char(h, off, '.');
		off = pp1_put_decimal(off, a[i]);
	}
	return off;
}

static __always_inline __u32 pp1_group(const __u8 *a, int i)
{
	return (__u32)a[2 * i] << 8 | a[2 * i + 1];
}

static __always_inline __u32 pp1_put_ipv6(__u8 *h, __u32 off, const __u8 *a)
{
	__u32 run = 0, best_start = 8, best_len = 1; /* a single zero group is not compressed */

	if (!pp1_group(a, 0) && !pp1_group(a, 1) && !pp1_group(a, 2) && !pp1_group(a, 3) && !pp1_group(a, 4) &&
	    pp1_group(a, 5) == 0xffff) {
		static const char mapped[7] = {':', ':', 'f', 'f', 'f', 'f', ':'};

#pragma unroll
		for (int i = 0; i < 7; i++)
			off = pp1_put_char(h, off, mapped[i]);
		return pp1_put_ipv4(h, off, a + 12);
	}
	/* RFC 5952: the longest run of two or more zero groups, the first one on a tie, becomes "::". */
#pragma unroll
	for (int i = 0; i < 8; i++) {
		run = pp1_group(a, i) ? 0 : run + 1;
		if (run > best_len) {
			best_len = run;
			best_start = i + 1 - run;
		}
	}
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if ((__u32)i >= best_start && (__u32)i < best_start + best_len) {
			if ((__u32)i == best_start) /* "::" stands for the run and both its separators */
				off = pp1_put_char(h, pp1_put_char(h, off, ':'), ':');
			continue;
		}
		if (i > 0 && (__u32)i != best_start + best_len)
			off = pp1_put_char(h, off, ':');
		off = pp1_put_hex(off, pp1_group(a, i));
	}
	return off;
}

static __always_inline __u32 pp1_put_address(__u8 *h, __u32 off, const __u8 *a, __u8 family)
{
	return family == LB_FAMILY_V4 ? pp1_put_ipv4(h, off, a) : pp1_put_ipv6(h, off, a);
}

/*
 * Write the v1 line for the connection keyed `client` (client -> VIP) into lb_scratch's header buffer,
 * followed by 4 zero bytes (the checksum sum works on 4-byte multiples). Returns its length, or 0 when
 * there is no scratch. Called at the SYN for the length, and at each injection for the bytes.
 * A global function: verified once, however many paths lead to it.
 */
__attribute__((noinline)) __u32 pp1_write(const struct lb_ct_key *client)
{
	static const char tcp4[11] = {'P', 'R', 'O', 'X', 'Y', ' ', 'T', 'C', 'P', '4', ' '};
	__u32 off;
	__u8 *h;

	if (!client)
		return 0;
	h = pp1_buf();
	if (!h)
		return 0;
	__builtin_memcpy(h, tcp4, sizeof(tcp4));
	if (client->family != LB_FAMILY_V4)
		h[9] = '6';
	off = pp1_put_address(h, sizeof(tcp4), client->saddr, client->family);
	off = pp1_put_char(h, off, ' ');
	off = pp1_put_address(h, off, client->daddr, client->family);
	off = pp1_put_char(h, off, ' ');
	off = pp1_put_decimal(off, bpf_ntohs(client->sport));
	off = pp1_put_char(h, off, ' ');
	off = pp1_put_decimal(off, bpf_ntohs(client->dport));
	off = pp1_put_char(h, off, '\r');
	off = pp1_put_char(h, off, '\n');
#pragma unroll
	for (int i = 0; i < 4; i++)
		h[(off + i) & PP1_OFF_MASK] = 0;
	return off > LB_PPV1_MAX_LEN ? 0 : off;
}

#endif /* LBCTL_PROXY_V1_H */

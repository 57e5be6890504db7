/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU counters. lb_stats slot 0 counts for the whole balancer, slot <service
 * id> for one service. The value is an array of __u64 indexed by enum
 * lb_counter; src/bpf/records.ts holds the same names in the same order (a unit
 * test parses this enum to keep the two in step). Append new counters before
 * LB_CNT__MAX only.
 */
#ifndef LBCTL_STATS_H
#define LBCTL_STATS_H

#include "common.h"

enum lb_counter {
	LB_CNT_FWD_PACKETS,          /* client -> backend packets forwarded */
	LB_CNT_FWD_BYTES,            /* their bytes as received (before rewriting) */
	LB_CNT_REV_PACKETS,          /* backend -> client packets forwarded */
	LB_CNT_REV_BYTES,
	LB_CNT_CONN_NEW,             /* connections created (client SYN) */
	LB_CNT_CONN_RECYCLED,        /* SYN reusing the tuple of a closed connection */
	LB_CNT_CONN_EXPIRED,         /* connections removed by their idle timer */
	LB_CNT_PPV2_INJECTED,        /* PPv2 headers inserted (first time) */
	LB_CNT_PPV2_REINJECTED,      /* headers inserted again into a retransmitted first segment */
	LB_CNT_PPV2_GSO_TRIMMED,     /* GSO first segments cut to one segment before insertion */
	LB_CNT_PPV2_FAIL_TOO_BIG,    /* first segment payload larger than the datapath can shift (> clamped MSS) */
	LB_CNT_PPV2_FAIL_GROW,       /* growing the packet failed */
	LB_CNT_PPV2_FAIL_WRITE,      /* moving payload or writing the header failed */
	LB_CNT_PPV2_NO_SERVICE,      /* header built after its service was deleted (custom TLVs -> NOOP) */
	LB_CNT_PPV2_TLVS_CHANGED,    /* service TLVs changed size since the SYN (custom TLVs -> NOOP) */
	LB_CNT_PPV2_SYN_DATA,        /* SYN carrying data (TCP Fast Open) on a PPv2 service, dropped */
	LB_CNT_MSS_CLAMPED,          /* SYN-ACKs whose MSS option was lowered by the header length */
	LB_CNT_SACK_SHIFTED,         /* backend -> client segments whose SACK blocks were shifted */
	LB_CNT_SNAT_PORT_COLLISION,  /* client port already taken towards the backend; another port used */
	LB_CNT_DROP_SNAT_EXHAUSTED,  /* no free SNAT port among the candidates */
	LB_CNT_DROP_NO_BACKEND,      /* empty lookup ring slot or missing/mismatched backend */
	LB_CNT_DROP_NO_CONNTRACK,    /* non-SYN packet to a VIP with no connection */
	LB_CNT_DROP_CT_INSERT,       /* conntrack insert failed */
	LB_CNT_DROP_REPLY_COLLISION, /* dnat: reply tuple already used by another connection */
	LB_CNT_DROP_CT_ORPHAN,       /* reply entry whose original entry is gone */
	LB_CNT_DROP_FIB_UNREACHABLE, /* route lookup: blackhole, unreachable or prohibit */
	LB_CNT_DROP_FIB_FWD_DISABLED,/* route lookup: forwarding disabled on the ingress device */
	LB_CNT_DROP_FIB_FRAG_NEEDED, /* packet larger than the egress MTU */
	LB_CNT_DROP_FIB_OTHER,       /* any other route lookup failure */
	LB_CNT_EVENTS_LOST,          /* ring buffer full */
	LB_CNT_DRAIN_RESETS,         /* packets turned into a reset pair (or SYNs refused) while detach drains */
	LB_CNT_DROP_DETACHING,       /* packets dropped while held (detach --keep-maps) or draining (payload) */
	LB_CNT__MAX,
};

struct lb_stats {
	__u64 c[LB_CNT__MAX];
};

_Static_assert(LB_CNT__MAX == 32, "update LB_COUNTER_NAMES in src/bpf/records.ts and bpf/ABI.md");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_stats SEC(".maps");

static __always_inline void stat_add(__u32 svc_id, enum lb_counter c, __u64 n)
{
	__u32 slot = 0, idx = c;
	struct lb_stats *s;

	asm volatile("" : "+r"(idx)); /* counters can arrive as runtime values (failure reasons) */
	if (idx >= LB_CNT__MAX)
		return;
	s = bpf_map_lookup_elem(&lb_stats, &slot);
	if (s)
		s->c[idx] += n;
	if (svc_id == 0 || svc_id >= LB_MAX_SERVICES)
		return;
	s = bpf_map_lookup_elem(&lb_stats, &svc_id);
	if (s)
		s->c[idx] += n;
}

static __always_inline void stat_inc(__u32 svc_id, enum lb_counter c)
{
	stat_add(svc_id, c, 1);
}

/*
 * The per-packet traffic counters: a packet and its bytes (adjacent counters, LB_CNT_FWD_PACKETS or
 * LB_CNT_REV_PACKETS and the one after it) in both slots, with one lookup per slot and constant offsets
 * (stat_add's runtime index costs a bounds check and a variable-offset access per update).
 */
static __always_inline void stat_packet(__u32 svc_id, const enum lb_counter packets, __u64 bytes)
{
	__u32 slot = 0;
	struct lb_stats *s;

	_Static_assert(LB_CNT_FWD_BYTES == LB_CNT_FWD_PACKETS + 1 && LB_CNT_REV_BYTES == LB_CNT_REV_PACKETS + 1,
		       "bytes follow packets");
	s = bpf_map_lookup_elem(&lb_stats, &slot);
	if (s) {
		s->c[packets] += 1;
		s->c[packets + 1] += bytes;
	}
	if (svc_id == 0 || svc_id >= LB_MAX_SERVICES)
		return;
	s = bpf_map_lookup_elem(&lb_stats, &svc_id);
	if (s) {
		s->c[packets] += 1;
		s->c[packets + 1] += bytes;
	}
}

#endif /* LBCTL_STATS_H */

/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU counters. lb_stats slot 0 counts for the whole balancer, slot <service
 * id> for one service. The value (struct lb_stats) is an array of __u64 indexed
 * by enum lb_counter; both are generated into lbctl_abi.h from src/bpf/abi.ts,
 * where a new counter is appended.
 */
#ifndef LBCTL_STATS_H
#define LBCTL_STATS_H

#include "common.h"

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

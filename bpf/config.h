/* SPDX-License-Identifier: MIT */
/* Global settings written by the control plane, and the connection sequence for UNIQUE_ID. */
#ifndef LBCTL_CONFIG_H
#define LBCTL_CONFIG_H

#include "common.h"

/* The default timeouts (LB_TIMEOUT_*_DEFAULT_S) are part of the ABI: lbctl_abi.h. */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_config SEC(".maps");

/*
 * One counter, incremented atomically per PPv2 connection. It lives in its own
 * map so that rewriting lb_config never resets it: boot id + sequence must not repeat.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_conn_seq SEC(".maps");

static __always_inline struct lb_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_config, &zero);
}

static __always_inline int events_enabled(void)
{
	struct lb_config *cfg = config_get();

	return cfg && (cfg->flags & LB_CFG_F_EVENTS);
}

static __always_inline __u64 ct_timeout_ns(__u8 state)
{
	struct lb_config *cfg = config_get();
	__u32 s = 0;

	switch (state) {
	case LB_CT_SYN_SENT:
		s = cfg ? cfg->timeout_syn_s : 0;
		if (!s)
			s = LB_TIMEOUT_SYN_DEFAULT_S;
		break;
	case LB_CT_ESTABLISHED:
		s = cfg ? cfg->timeout_est_s : 0;
		if (!s)
			s = LB_TIMEOUT_EST_DEFAULT_S;
		break;
	case LB_CT_FIN:
		s = cfg ? cfg->timeout_fin_s : 0;
		if (!s)
			s = LB_TIMEOUT_FIN_DEFAULT_S;
		break;
	case LB_CT_UDP:
		s = cfg ? cfg->timeout_udp_s : 0;
		if (!s)
			s = LB_TIMEOUT_UDP_DEFAULT_S;
		break;
	default:
		s = cfg ? cfg->timeout_closed_s : 0;
		if (!s)
			s = LB_TIMEOUT_CLOSED_DEFAULT_S;
		break;
	}
	return (__u64)s * 1000000000ULL;
}

/* UNIQUE_ID value: boot id then a per-connection sequence, both big-endian. */
static __always_inline void unique_id_next(__u8 out[16])
{
	struct lb_config *cfg = config_get();
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&lb_conn_seq, &zero);
	__u64 boot = cfg ? cfg->boot_id : 0;
	__u64 n = seq ? __sync_fetch_and_add(seq, 1) + 1 : 0;
	__u64 be_boot = bpf_cpu_to_be64(boot), be_n = bpf_cpu_to_be64(n);

	__builtin_memcpy(out, &be_boot, 8);
	__builtin_memcpy(out + 8, &be_n, 8);
}

#endif /* LBCTL_CONFIG_H */

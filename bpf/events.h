/* SPDX-License-Identifier: MIT */
/*
 * Events ring buffer: one record per injected or re-injected header (with the
 * header bytes) and one per failure (reason = the counter that counted it).
 * Off unless lb_config.flags has LB_CFG_F_EVENTS; reserve/submit, no copies
 * through the stack. A full ring increments LB_CNT_EVENTS_LOST.
 */
#ifndef LBCTL_EVENTS_H
#define LBCTL_EVENTS_H

#include "config.h"
#include "stats.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LB_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_events SEC(".maps");

static __always_inline struct lb_event *event_reserve(__u16 type, __u32 svc_id, const struct lb_ct_key *client)
{
	struct lb_event *ev;

	if (!events_enabled())
		return 0;
	/*
	 * Nobody reading (e.g. events on, `lbctl top` not running): the ring stays full. Checking the unread
	 * bytes is lock-free; a reserve that is bound to fail takes the ring's spinlock with interrupts off.
	 */
	if (bpf_ringbuf_query(&lb_events, BPF_RB_AVAIL_DATA) > LB_EVENTS_BYTES - (sizeof(*ev) + BPF_RINGBUF_HDR_SZ)) {
		stat_inc(svc_id, LB_CNT_EVENTS_LOST);
		return 0;
	}
	ev = bpf_ringbuf_reserve(&lb_events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(svc_id, LB_CNT_EVENTS_LOST);
		return 0;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->type = type;
	ev->reason = 0;
	ev->svc_id = svc_id;
	ev->family = client->family;
	ev->pad = 0;
	ev->sport = client->sport;
	ev->dport = client->dport;
	ev->hdr_len = 0;
	addr_copy(ev->saddr, client->saddr);
	addr_copy(ev->daddr, client->daddr);
	return ev;
}

/* Count a failure and, when events are on, report it. */
static __always_inline void fail_event(__u32 svc_id, enum lb_counter reason, const struct lb_ct_key *client)
{
	struct lb_event *ev;

	stat_inc(svc_id, reason);
	ev = event_reserve(LB_EV_FAILURE, svc_id, client);
	if (!ev)
		return;
	ev->reason = reason;
	__builtin_memset(ev->hdr, 0, sizeof(ev->hdr));
	bpf_ringbuf_submit(ev, 0);
}

#endif /* LBCTL_EVENTS_H */

// SPDX-License-Identifier: MIT
/*
 * lbctl datapath: one tc ingress program for client-facing and backend-facing
 * interfaces. A packet either belongs to a tracked connection (conntrack hit,
 * in the original or the reply direction), opens one (client SYN to a
 * service), or is none of the balancer's business and passes untouched.
 * UDP datagrams take their own path (udp.h) right after parsing.
 */
#include "common.h"
#include "parse.h"
#include "csum.h"
#include "nat.h"
#include "fib.h"
#include "stats.h"
#include "events.h"
#include "config.h"
#include "service.h"
#include "conntrack.h"
#include "snat.h"
#include "ppv2.h"
#include "proxy_v1.h"
#include "tcp_opts.h"
#include "detaching.h"
#include "icmp.h"

char LICENSE[] SEC("license") = "GPL"; /* bpf_timer and friends are GPL-only helpers */

/*
 * Create both conntrack entries for a client SYN. NULL when dropped (already counted); *table_full is then set
 * when the reason is a full table, which the caller answers with a reset.
 */
static __always_inline struct lb_ct_entry *ct_create(const struct pkt *p, const struct lb_service *svc,
						     int *table_full)
{
	struct lb_ct_key reply = {};
	struct lb_ct_entry *e = 0, *tmpl; /* NULL unless the insert succeeds: the verifier walks a truncated error too */
	struct ppv2_scratch *s;
	struct lb_backend *be;
	__u32 be_id = 0, zero = 0, hash = tuple_hash(&p->tuple);
	__u64 now = bpf_ktime_get_ns();
	int err;

	s = bpf_map_lookup_elem(&lb_scratch, &zero);
	if (!s)
		return 0;
	tmpl = &s->ct_tmpl;
	__builtin_memset(tmpl, 0, sizeof(*tmpl));

	be = backend_select(svc, hash, &be_id);
	if (!be || be->family != p->family) {
		fail_event(svc->id, LB_CNT_DROP_NO_BACKEND, &p->tuple);
		return 0;
	}
	tmpl->kind = LB_CT_KIND_REPLY;
	__builtin_memcpy(&tmpl->peer, &p->tuple, sizeof(tmpl->peer));
	tmpl->svc_id = svc->id;
	tmpl->backend_id = be_id;
	tmpl->mode = svc->mode;
	tmpl->created_ns = now;
	tmpl->last_seen_ns = now;
	/* The fields a backend -> client segment needs, mirrored so it can do without the ORIG entry. */
	tmpl->client_isn = p->seq;
	if ((svc->flags & (LB_SVC_F_PPV2 | LB_SVC_F_PPV1)) == (LB_SVC_F_PPV2 | LB_SVC_F_PPV1)) {
		/* v1: the line's length depends on the address and port text; writing it is how it is known. */
		tmpl->flags = LB_CT_F_PPV2 | LB_CT_F_PPV1;
		tmpl->ppv2_len = pp1_write(&p->tuple);
		if (!tmpl->ppv2_len) {
			fail_event(svc->id, LB_CNT_PPV2_FAIL_WRITE, &p->tuple);
			return 0;
		}
	} else if (svc->flags & LB_SVC_F_PPV2) {
		tmpl->flags = ppv2_ct_flags(svc);
		tmpl->ppv2_len = ppv2_len_for(svc, p->family);
	}
	tmpl->flags |= LB_CT_F_MIRROR;
	err = snat_claim(&reply, &p->tuple, svc, be, hash, tmpl);
	if (err) {
		*table_full = err == LB_CNT_DROP_CT_FULL;
		fail_event(svc->id, err, &p->tuple);
		return 0;
	}

	tmpl->kind = LB_CT_KIND_ORIG;
	__builtin_memcpy(&tmpl->peer, &reply, sizeof(tmpl->peer));
	tmpl->state = p->tuple.proto == LB_PROTO_UDP ? LB_CT_UDP : LB_CT_SYN_SENT;
	tmpl->flags &= ~LB_CT_F_MIRROR;
	if (svc->flags & LB_SVC_F_UNIQUE_ID)
		unique_id_next(tmpl->unique_id);
	err = ct_insert_orig(&p->tuple, tmpl, &e);
	if (err) {
		bpf_map_delete_elem(&lb_conntrack, &reply);
		*table_full = err == -E2BIG;
		fail_event(svc->id, *table_full ? LB_CNT_DROP_CT_FULL : LB_CNT_DROP_CT_INSERT, &p->tuple);
		return 0;
	}
	stat_inc(svc->id, LB_CNT_CONN_NEW);
	return e;
}

/*
 * Build the connection's PPv2 header into lb_scratch, from conntrack and, for the custom TLVs, the
 * service (see ppv2_build). Returns its length, or 0 when the packet must be dropped (already counted).
 * A global function, so the verifier walks the header layouts once rather than once per path into it;
 * hence the lookups by key.
 */
__attribute__((noinline)) __u32 ppv2_prepare(const struct lb_ct_key *client)
{
	__u32 zero = 0, svc_id, n, tlvs = PPV2_TLVS_AS_IS;
	struct ppv2_scratch *s;
	struct lb_service *svc;
	struct lb_ct_entry *e;
	struct lb_ct_key key;

	if (!client)
		return 0;
	__builtin_memcpy(&key, client, sizeof(key));
	e = ct_lookup(&key);
	if (!e)
		return 0;
	svc_id = e->svc_id;
	s = bpf_map_lookup_elem(&lb_scratch, &zero);
	if (!s) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &key);
		return 0;
	}
	/* The VIP may have been deleted, or deleted and added again as another service. */
	svc = service_lookup(&key);
	if (svc && svc->id != svc_id)
		svc = 0;
	n = ppv2_build(s, &key, e->flags, e->ppv2_len, e->unique_id, svc, &tlvs);
	if (!n) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &key);
		return 0;
	}
	if (!svc)
		stat_inc(svc_id, LB_CNT_PPV2_NO_SERVICE);
	else if (tlvs == PPV2_TLVS_NOOP)
		stat_inc(svc_id, LB_CNT_PPV2_TLVS_CHANGED);
	return n;
}

/*
 * Whether this client segment at sequence ISN+1 (no SYN) carries the header, the first time or again.
 *
 * The first header goes out as soon as the handshake completes: alone, in the client's ACK of the SYN-ACK, so
 * that server-first protocols (SMTP, FTP, MySQL) get it before they speak and the client never waits for a
 * greeting that waits for the header; or in front of the client's first data when that ACK carries data.
 * The header is the only thing in flight until the backend acknowledges it (LB_CT_F_HDR_ACKED), so until
 * then a segment at ISN+1 that the client sends again can only mean the header segment was lost:
 * - a bare ACK again (the backend, still in SYN-RECV, retransmitted its SYN-ACK) takes the header again;
 * - data at ISN+1 goes shifted behind the header the first time (LB_CT_F_DATA_SENT), and with the header
 *   in front again when the client retransmits it.
 * Identical bytes at the same sequence numbers: a backend that has them already discards the copy.
 */
static __always_inline int ppv2_header_due(const struct lb_ct_entry *e, __u32 f, const struct pkt *p)
{
	if (p->tcp_flags & TCP_FLAG_RST)
		return 0;
	if (!(f & LB_CT_F_HDR_SENT))
		return p->payload_len || ((p->tcp_flags & TCP_FLAG_ACK) && e->state != LB_CT_SYN_SENT);
	if (f & LB_CT_F_HDR_ACKED)
		return 0;
	if (p->payload_len)
		return f & LB_CT_F_DATA_SENT;
	return !(f & LB_CT_F_DATA_SENT);
}

/*
 * Take the header for this segment: 1 to re-inject it (it went out before), 2 to send it the first time,
 * 0 when another CPU took the first header between ppv2_header_due's look and now. The client's handshake
 * ACK and its first data often arrive back to back and can be handled on two CPUs at once; without the
 * atomic claim both would send the header as the first one (the same bytes at the same sequence numbers, so
 * the stream survived, but it went out twice and was counted twice). The loser goes on as if it had come
 * second: shifted behind the header.
 */
static __always_inline int ppv2_claim(struct lb_ct_entry *e, __u16 seen)
{
	if (seen & LB_CT_F_HDR_SENT)
		return 1;
	return ct_flags_set(e, LB_CT_F_HDR_SENT) & LB_CT_F_HDR_SENT ? 0 : 2;
}

/*
 * Insert (or re-insert, `claim` 1) the header in front of this segment's payload, which may be empty (the
 * handshake's ACK). Returns 0 when the packet may go on (it has been re-parsed), -1 to drop it.
 */
static __always_inline int ppv2_inject(struct __sk_buff *skb, struct pkt *p, struct lb_ct_entry *e, int claim)
{
	__u32 zero = 0, svc_id = e->svc_id, n;
	int reinject = claim == 1;
	struct ppv2_scratch *s;
	struct lb_ct_entry *r;
	int err;

	if (e->flags & LB_CT_F_PPV1) {
		/*
		 * The same connection key writes the same line, of the length recorded at the SYN. Called from here,
		 * not from ppv2_prepare: the writer's call chain would not fit under that one's stack.
		 */
		n = pp1_write(&p->tuple);
		if (!n || n != e->ppv2_len) {
			fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &p->tuple);
			goto unclaim;
		}
	} else {
		n = ppv2_prepare(&p->tuple);
		if (!n)
			goto unclaim;
	}
	err = ppv2_insert(skb, (p->l4_off << 8) | p->thl, p->payload_len,
			  n | (__u32)p->family << 16 | (__u32)p->tcp_flags << 24, svc_id);
	if (err) {
		fail_event(svc_id, err, &p->tuple);
		goto unclaim;
	}
	if (p->payload_len)
		ct_flags_set(e, LB_CT_F_DATA_SENT);
	/*
	 * The REPLY entry's copy, before this segment is forwarded: the backend cannot acknowledge the header
	 * before it has it, so no backend segment needing the shift can be translated without it.
	 */
	r = ct_lookup(&e->peer);
	if (r && r->kind == LB_CT_KIND_REPLY)
		ct_flags_set(r, LB_CT_F_HDR_SENT);
	if (reinject) {
		e->reinjections++;
		stat_inc(svc_id, LB_CNT_PPV2_REINJECTED);
	} else {
		stat_inc(svc_id, LB_CNT_PPV2_INJECTED);
		stat_inc(svc_id, p->payload_len ? LB_CNT_PPV2_HDR_WITH_DATA : LB_CNT_PPV2_HDR_ALONE);
	}
	s = bpf_map_lookup_elem(&lb_scratch, &zero);
	if (s)
		ppv2_event(reinject ? LB_EV_HDR_REINJECTED : LB_EV_HDR_INJECTED, svc_id, &p->tuple, s, n);
	if (parse_pkt(skb, p))
		return -1;
	/* An odd-length (v1) line moved the payload behind it by an odd number of bytes. */
	if ((n & 1) && p->payload_len > n &&
	    csum_fix_odd_shift(skb, TCP_CSUM_OFF(p), p->l4_off + p->thl + n, p->payload_len - n)) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &p->tuple);
		return -1;
	}
	return 0;
unclaim:
	/* This segment is dropped without its header: the first header is still due when the client retries. */
	if (!reinject)
		ct_flags_clear(e, LB_CT_F_HDR_SENT);
	return -1;
}

/* Client -> backend. */
static __always_inline int handle_orig(struct __sk_buff *skb, struct pkt *p, struct lb_ct_entry *e)
{
	__u32 svc_id = e->svc_id, seq = p->seq;
	__u64 bytes = skb->len, now;
	struct lb_ct_key peer;

	if (e->flags & LB_CT_F_PPV2) {
		__u32 base = e->client_isn + 1;
		__u16 seen = e->flags; /* one look: ppv2_claim settles a race with another CPU against it */
		int claim;

		if (p->tcp_flags & TCP_FLAG_SYN) {
			/* TCP Fast Open data would reach the backend before the header; the client retries without it. */
			if (p->payload_len) {
				fail_event(svc_id, LB_CNT_PPV2_SYN_DATA, &p->tuple);
				return TC_ACT_SHOT;
			}
		} else if (seq == base && ppv2_header_due(e, seen, p) && (claim = ppv2_claim(e, seen))) {
			if (ppv2_inject(skb, p, e, claim))
				return TC_ACT_SHOT;
		} else if ((p->tcp_flags & TCP_FLAG_RST) && !(e->flags & LB_CT_F_HDR_SENT)) {
			/*
			 * A reset before any header answers something the backend sent (e.g. a bare ACK from a stale
			 * TIME_WAIT on a reused port): its seq is the backend's own ack value, so it must stay unshifted
			 * or the backend ignores it and the port stays blocked for the whole TIME_WAIT.
			 */
		} else if (seq_after(seq, base) || (seq == base && (e->flags & LB_CT_F_HDR_SENT))) {
			if (seq == base && p->payload_len && !(e->flags & LB_CT_F_DATA_SENT))
				ct_flags_set(e, LB_CT_F_DATA_SENT);
			seq += e->ppv2_len;
		}
	}
	now = bpf_ktime_get_ns();
	ct_track(e, p, 1, now);
	e->packets_orig++;
	e->bytes_orig += bytes;
	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	if (nat_rewrite(skb, p, &peer, seq, p->ack)) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &p->tuple);
		return TC_ACT_SHOT;
	}
	stat_packet(svc_id, LB_CNT_FWD_PACKETS, bytes);
	return fib_forward(skb, &peer, svc_id, now);
}

/*
 * The backend acknowledged the header: from now on the client's segments at ISN+1 are shifted, never given
 * the header again (ppv2_header_due). Once per connection, on both entries (the ORIG entry decides).
 */
static __always_inline void ppv2_header_acked(struct lb_ct_entry *r, struct lb_ct_entry *o)
{
	ct_flags_set(r, LB_CT_F_HDR_ACKED);
	if (o && o->kind == LB_CT_KIND_ORIG)
		ct_flags_set(o, LB_CT_F_HDR_ACKED);
}

/*
 * Backend -> client. `r` is the REPLY entry the packet matched. It mirrors what translating a segment needs
 * (LB_CT_F_MIRROR: PPv2 flags, header length, client ISN) and counts this direction itself, so an ordinary
 * segment costs no second lookup. Only segments that can change the connection's state (SYN, FIN, RST) also
 * look up the ORIG entry.
 */
static __always_inline int handle_reply(struct __sk_buff *skb, struct pkt *p, struct lb_ct_entry *r)
{
	struct lb_ct_key orig;
	struct lb_ct_entry *e = 0;
	__u32 svc_id = r->svc_id, ack = p->ack, flags = r->flags, isn = r->client_isn, len = r->ppv2_len;
	__u64 bytes = skb->len, now;

	__builtin_memcpy(&orig, &r->peer, sizeof(orig));
	if (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST)) {
		e = ct_lookup(&orig);
		if (!e || e->kind != LB_CT_KIND_ORIG) {
			stat_inc(svc_id, LB_CNT_DROP_CT_ORPHAN);
			return TC_ACT_SHOT;
		}
		svc_id = e->svc_id;
		flags = e->flags;
		isn = e->client_isn;
		len = e->ppv2_len;
	}
	if (flags & LB_CT_F_PPV2) {
		/*
		 * Until the header is in the stream the two byte spaces are the same: a connection that
		 * closes without data has its FIN acknowledged at ISN+2 in both, and must not lose that byte.
		 */
		__u32 shift = (flags & LB_CT_F_HDR_SENT) ? len : 0;
		__u32 mss_reduce = (p->tcp_flags & TCP_FLAG_SYN) ? len : 0;

		if (shift && !(flags & LB_CT_F_HDR_ACKED) && (p->tcp_flags & TCP_FLAG_ACK) &&
		    !seq_before(ack, isn + 1 + len))
			ppv2_header_acked(r, e ? e : ct_lookup(&orig));

		if (p->tcp_flags & TCP_FLAG_ACK)
			ack = ack_to_client(ack, isn, shift);
		/* Option walk only where there can be something to fix: an MSS to clamp, SACK blocks to shift. */
		if (p->thl > sizeof(struct tcphdr) && (mss_reduce || (shift && !tcp_opts_ts_only(p)))) {
			int rc = tcp_opts_fix(skb, (p->l4_off << 8) | p->thl, isn, shift, mss_reduce);

			if (rc < 0) {
				fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &orig);
				return TC_ACT_SHOT;
			}
			if (rc & OPTS_MSS_CLAMPED)
				stat_inc(svc_id, LB_CNT_MSS_CLAMPED);
			if (rc & OPTS_SACK_SHIFTED)
				stat_inc(svc_id, LB_CNT_SACK_SHIFTED);
		}
	}
	now = bpf_ktime_get_ns();
	if (e)
		ct_track(e, p, 0, now);
	r->last_seen_ns = now;
	r->packets_reply++;
	r->bytes_reply += bytes;
	if (nat_rewrite(skb, p, &orig, p->seq, ack)) {
		fail_event(svc_id, LB_CNT_PPV2_FAIL_WRITE, &orig);
		return TC_ACT_SHOT;
	}
	stat_packet(svc_id, LB_CNT_REV_PACKETS, bytes);
	return fib_forward(skb, &orig, svc_id, now);
}

/*
 * A SYN the table has no room for: answered at once with a reset out of the interface it came in on, so the
 * client fails fast instead of retrying its SYN for a minute, and no live connection is evicted for it.
 */
static __always_inline int refuse_syn(struct __sk_buff *skb, struct pkt *p)
{
	if (reflect_reset(skb, p))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* While detach holds or drains the datapath (see detaching.h). */
static __always_inline int handle_detaching(struct __sk_buff *skb, struct pkt *p, __u32 mode)
{
	struct lb_ct_entry *e = ct_lookup(&p->tuple);
	struct lb_service *svc;
	__u32 svc_id;

	if (e) {
		svc_id = e->svc_id;
	} else {
		svc = service_lookup(&p->tuple);
		if (!svc)
			return TC_ACT_OK;
		svc_id = svc->id;
	}
	if ((mode & LB_CFG_F_HOLD) || p->payload_len || (!e && (p->tcp_flags & TCP_FLAG_RST))) {
		stat_inc(svc_id, LB_CNT_DROP_DETACHING);
		return TC_ACT_SHOT;
	}
	if (!(p->tcp_flags & TCP_FLAG_RST)) {
		if (reset_both_ways(skb, p)) {
			stat_inc(svc_id, LB_CNT_DROP_DETACHING);
			return TC_ACT_SHOT;
		}
		stat_inc(svc_id, LB_CNT_DRAIN_RESETS);
		/* A refused or retransmitted SYN: its sender has its answer, and no backend is waiting for it. */
		if (!e || (p->tcp_flags & TCP_FLAG_SYN && e->kind == LB_CT_KIND_ORIG))
			return TC_ACT_SHOT;
	}
	return e->kind == LB_CT_KIND_REPLY ? handle_reply(skb, p, e) : handle_orig(skb, p, e);
}

/* UDP flows: after ct_create and ppv2_prepare, which they share with TCP. */
#include "udp.h"

SEC("tc")
int lbctl_ingress(struct __sk_buff *skb)
{
	struct lb_service *svc;
	struct lb_ct_entry *e;
	struct pkt p;
	__u32 detaching;
	int table_full = 0;

	if (parse_pkt(skb, &p))
		return icmp_handle(skb); /* ICMP errors about tracked connections; anything else passes */
	detaching = detaching_flags();
	if (p.tuple.proto == LB_PROTO_UDP)
		return detaching ? udp_detaching(skb, &p) : udp_ingress(skb, &p);
	if (detaching)
		return handle_detaching(skb, &p, detaching);

	e = ct_lookup(&p.tuple);
	if (e) {
		if (e->kind == LB_CT_KIND_REPLY)
			return handle_reply(skb, &p, e);
		/* A new SYN on a finished (or never answered) connection's tuple starts over. */
		if (!(is_syn_only(&p) && e->client_isn != p.seq && e->state != LB_CT_ESTABLISHED))
			return handle_orig(skb, &p, e);
		stat_inc(e->svc_id, LB_CNT_CONN_RECYCLED);
		ct_delete_pair(&p.tuple, e);
	}

	svc = service_lookup(&p.tuple);
	if (!svc)
		return TC_ACT_OK;
	if (!is_syn_only(&p)) {
		stat_inc(svc->id, LB_CNT_DROP_NO_CONNTRACK);
		return TC_ACT_SHOT;
	}
	e = ct_create(&p, svc, &table_full);
	if (!e)
		return table_full ? refuse_syn(skb, &p) : TC_ACT_SHOT;
	return handle_orig(skb, &p, e);
}

/* SPDX-License-Identifier: MIT */
/*
 * Connection tracking. Each connection has two entries in one preallocated hash
 * (not an LRU: a full table refuses new connections, it never evicts a live one):
 *  - ORIG, keyed by what the client sends (client -> VIP), holds all state;
 *  - REPLY, keyed by what the backend sends (backend -> SNAT address or client),
 *    holds `peer` = the ORIG key, copies of the fields translating a backend
 *    segment needs, and that direction's counters and last_seen_ns.
 * The translation for a direction is "rewrite the tuple to the reverse of the
 * peer key", so no address is stored twice.
 *
 * Expiry: one timer for the whole table, the janitor, sweeps it once a second
 * (bpf_for_each_map_elem) and deletes both entries of every connection idle
 * for its state's timeout, idle counted from the later of the two directions'
 * last_seen_ns. It also removes REPLY entries whose ORIG entry is gone (a
 * deletion between the two). The hot path only writes last_seen_ns (and the
 * state when it moves), and the table drains to zero without a user-space
 * sweeper; an entry goes at most one second after its timeout.
 *
 * Why not a bpf_timer per connection: the table is swept every second anyway
 * (a per-entry timer is not guaranteed: bpf_timer_init allocates without locks
 * or reclaim and fails for most of a burst of a few hundred handshakes), and
 * each per-entry timer cost an allocation, three hrtimer (re)starts under
 * interrupt-disabling locks, a softirq run and an RCU-deferred free per
 * connection: 18% of the program's run time on short connections and 192
 * bytes per connection (bench/ab.ts, see the README's benchmark section).
 */
#ifndef LBCTL_CONNTRACK_H
#define LBCTL_CONNTRACK_H

#include "config.h"
#include "stats.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH); /* not LRU: a full table refuses new connections, never evicts live ones */
	__uint(max_entries, LB_CT_MAX_ENTRIES);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_conntrack SEC(".maps");

static __always_inline struct lb_ct_entry *ct_lookup(const struct lb_ct_key *k)
{
	return bpf_map_lookup_elem(&lb_conntrack, k);
}

/*
 * Set flag bits atomically and return the flags as they were. The two directions of a connection, and the
 * client's handshake ACK and first data, can be handled on different CPUs at once; a plain `|=` reads, ORs
 * and writes back, and can undo a bit another CPU set in between (a lost FIN_REPLY, or two CPUs both taking
 * the first header). BPF atomics work on 32 or 64 bits, so this works on the aligned word that holds
 * `flags` and `ppv2_len`; OR-ing (or AND-ing with all ones) in ppv2_len's half leaves it as it is.
 */
typedef __u32 __attribute__((may_alias)) ct_flags_word;
_Static_assert(__builtin_offsetof(struct lb_ct_entry, flags) % 4 == 0, "flags starts an aligned word");
_Static_assert(__builtin_offsetof(struct lb_ct_entry, ppv2_len) ==
		       __builtin_offsetof(struct lb_ct_entry, flags) + 2, "ppv2_len shares the word");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CT_FLAGS_SHIFT 0
#else
#define CT_FLAGS_SHIFT 16
#endif

static __always_inline __u16 ct_flags_set(struct lb_ct_entry *e, __u16 bits)
{
	return __sync_fetch_and_or((ct_flags_word *)&e->flags, (__u32)bits << CT_FLAGS_SHIFT) >> CT_FLAGS_SHIFT;
}

static __always_inline void ct_flags_clear(struct lb_ct_entry *e, __u16 bits)
{
	__sync_fetch_and_and((ct_flags_word *)&e->flags, ~((__u32)bits << CT_FLAGS_SHIFT));
}

/* Build the key the other side uses: swap addresses and ports. */
static __always_inline void ct_key_reverse(struct lb_ct_key *out, const struct lb_ct_key *in)
{
	addr_copy(out->saddr, in->daddr);
	addr_copy(out->daddr, in->saddr);
	out->sport = in->dport;
	out->dport = in->sport;
	out->proto = in->proto;
	out->family = in->family;
	out->pad = 0;
}

/* How often the janitor sweeps the table. */
#define LB_JANITOR_PERIOD_NS 1000000000ULL
/* A REPLY entry is inserted just before its ORIG entry: only older orphans are stale. */
#define LB_ORPHAN_GRACE_NS 5000000000ULL

struct lb_janitor {
	struct bpf_timer timer;
	__u64 armed; /* 1 once the timer runs (it then re-arms itself) */
	__u64 runs;  /* sweeps done */
};

_Static_assert(sizeof(struct lb_janitor) == 32, "lb_janitor size: bpf/ABI.md");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_janitor);
	__uint(pinning, LIBBPF_PIN_BY_NAME); /* a timer needs its map held by user space or pinned */
} lb_janitor SEC(".maps");

/*
 * Whether an ORIG entry has been idle for its state's timeout. Idle is counted from the later of its own
 * last_seen_ns (client -> backend) and its REPLY entry's (backend -> client, LB_CT_F_MIRROR), and the REPLY
 * entry is only looked up when the ORIG stamp alone says expired. Signed: another CPU may have stamped an
 * entry after `now`.
 */
static __always_inline int ct_idle_expired(const struct lb_ct_entry *e, __u64 now)
{
	__s64 timeout = (__s64)ct_timeout_ns(e->state);
	const struct lb_ct_entry *r;

	if ((__s64)(now - e->last_seen_ns) < timeout)
		return 0;
	r = bpf_map_lookup_elem(&lb_conntrack, &e->peer);
	return !(r && r->kind == LB_CT_KIND_REPLY && (__s64)(now - r->last_seen_ns) < timeout);
}

/* Delete an expired connection: both entries (ORIG entry given), counted. */
static __always_inline void ct_expire(void *map, const struct lb_ct_key *key, const struct lb_ct_entry *e)
{
	struct lb_ct_key peer;
	__u32 svc_id = e->svc_id;

	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	bpf_map_delete_elem(map, &peer);
	bpf_map_delete_elem(map, key);
	stat_inc(svc_id, LB_CNT_CONN_EXPIRED);
}

struct janitor_sweep {
	__u64 now;
};

static long janitor_visit(void *map, struct lb_ct_key *key, struct lb_ct_entry *e, struct janitor_sweep *sweep)
{
	struct lb_ct_key peer;

	if (e->kind == LB_CT_KIND_REPLY) {
		if (sweep->now - e->created_ns < LB_ORPHAN_GRACE_NS)
			return 0;
		__builtin_memcpy(&peer, &e->peer, sizeof(peer));
		if (!bpf_map_lookup_elem(&lb_conntrack, &peer))
			bpf_map_delete_elem(&lb_conntrack, key);
		return 0;
	}
	if (ct_idle_expired(e, sweep->now))
		ct_expire(&lb_conntrack, key, e);
	return 0;
}

static int janitor_fired(void *map, __u32 *key, struct lb_janitor *j)
{
	struct janitor_sweep sweep = {.now = bpf_ktime_get_ns()};

	bpf_for_each_map_elem(&lb_conntrack, janitor_visit, &sweep, 0);
	j->runs++;
	bpf_timer_start(&j->timer, LB_JANITOR_PERIOD_NS, 0);
	return 0;
}

/* Arm the janitor if it is not running yet (its first bpf_timer_init may fail like any other). */
static __always_inline void janitor_ensure(void)
{
	__u32 zero = 0;
	struct lb_janitor *j = bpf_map_lookup_elem(&lb_janitor, &zero);
	long err;

	if (!j || j->armed)
		return;
	err = bpf_timer_init(&j->timer, &lb_janitor, CLOCK_MONOTONIC);
	if (err && err != -16 /* EBUSY */)
		return;
	if (bpf_timer_set_callback(&j->timer, janitor_fired) || bpf_timer_start(&j->timer, LB_JANITOR_PERIOD_NS, 0))
		return;
	j->armed = 1;
}

/* Remove both entries of a connection (ORIG entry given). */
static __always_inline void ct_delete_pair(const struct lb_ct_key *orig_key, struct lb_ct_entry *e)
{
	struct lb_ct_key peer;

	__builtin_memcpy(&peer, &e->peer, sizeof(peer));
	bpf_map_delete_elem(&lb_conntrack, &peer);
	bpf_map_delete_elem(&lb_conntrack, orig_key);
}

/*
 * Insert the ORIG entry `tmpl` (its peer already holds the REPLY key, which is
 * already inserted) and make sure the janitor runs. Sets *out to the map's copy;
 * returns 0 or the insert's error (-E2BIG: the table is full).
 */
static __always_inline long ct_insert_orig(const struct lb_ct_key *orig_key, struct lb_ct_entry *tmpl,
					   struct lb_ct_entry **out)
{
	long err = bpf_map_update_elem(&lb_conntrack, orig_key, tmpl, BPF_NOEXIST);

	if (err)
		return err;
	*out = bpf_map_lookup_elem(&lb_conntrack, orig_key);
	if (!*out)
		return -ENOENT;
	janitor_ensure();
	return 0;
}

/*
 * TCP state from the flags of one segment. `from_client` selects which FIN flag
 * to set. Expiry is the janitor's (it reads the state and last_seen_ns), so
 * nothing here but stores.
 */
/* The state this packet moves a connection to from `old`, given the FIN bits in `flags`. */
static __always_inline __u8 ct_next_state(__u8 old, __u16 flags, const struct pkt *p, int syn_ack)
{
	const __u16 both = LB_CT_F_FIN_ORIG | LB_CT_F_FIN_REPLY;

	if (old == LB_CT_CLOSED)
		/*
		 * Stays closed until the janitor removes it or a new SYN recycles the tuple; except a handshake a
		 * reset interrupted (a client resetting a stale TIME_WAIT's ACK, then retrying its SYN): its SYN-ACK
		 * opens it, so that it is not taken for a finished connection (snat.h reclaims those).
		 */
		return syn_ack && !(flags & both) ? LB_CT_ESTABLISHED : LB_CT_CLOSED;
	if (p->tcp_flags & TCP_FLAG_RST)
		return LB_CT_CLOSED;
	if (p->tcp_flags & TCP_FLAG_FIN)
		return (flags & both) == both ? LB_CT_CLOSED : LB_CT_FIN;
	if (syn_ack && old == LB_CT_SYN_SENT)
		return LB_CT_ESTABLISHED;
	return old;
}

/*
 * `state` shares an aligned 32-bit word with kind, mode and pad, which never change after the entry is made;
 * the state moves by compare-and-swap on that word (BPF atomics are 32 or 64 bits wide).
 */
typedef __u32 __attribute__((may_alias)) ct_state_word;
_Static_assert(__builtin_offsetof(struct lb_ct_entry, kind) % 4 == 0, "kind starts an aligned word");
_Static_assert(__builtin_offsetof(struct lb_ct_entry, state) == __builtin_offsetof(struct lb_ct_entry, kind) + 1,
	       "state is the word's second byte");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CT_STATE_SHIFT 8
#else
#define CT_STATE_SHIFT 16
#endif

static __always_inline int ct_state_swap(struct lb_ct_entry *e, __u8 old, __u8 next)
{
	ct_state_word *word = (ct_state_word *)&e->kind;
	__u32 keep = *word & ~((__u32)0xff << CT_STATE_SHIFT);
	__u32 expected = keep | (__u32)old << CT_STATE_SHIFT;

	return __sync_val_compare_and_swap(word, expected, keep | (__u32)next << CT_STATE_SHIFT) == expected;
}

/*
 * Track a packet of the connection: its time, and the state it moves the connection to. The two directions
 * (and two segments of one) can be handled on two CPUs at once, so the state is not simply written back: a
 * packet that read ESTABLISHED must not put that back over the CLOSED a reset on the other CPU wrote, nor may
 * the first of two crossing FINs write FIN over the second's CLOSED. The move is a compare-and-swap from the
 * state the packet saw; when another CPU moved it first, the move is worked out again from the new state
 * (at most twice more: each retry follows another CPU's move, and the moves that can race are few).
 */
static __always_inline void ct_track(struct lb_ct_entry *e, const struct pkt *p, int from_client, __u64 now)
{
	__u8 old = e->state;
	__u16 flags = e->flags;
	int syn_ack = !from_client && (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == (TCP_FLAG_SYN | TCP_FLAG_ACK);

	if (old != LB_CT_CLOSED && (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) == TCP_FLAG_FIN) {
		__u16 fin = from_client ? LB_CT_F_FIN_ORIG : LB_CT_F_FIN_REPLY;

		flags = ct_flags_set(e, fin) | fin;
	}
	e->last_seen_ns = now;
#pragma unroll
	for (int i = 0; i < 3; i++) {
		__u8 next = ct_next_state(old, flags, p, syn_ack);

		if (next == old || ct_state_swap(e, old, next))
			return;
		old = e->state;
		flags = e->flags;
	}
}

#endif /* LBCTL_CONNTRACK_H */

/* SPDX-License-Identifier: MIT */
/*
 * Services, backends and backend selection.
 *
 * Selection: the control plane fills one Maglev lookup ring of LB_MAGLEV_SIZE
 * backend ids per service (weights applied there, see ABI.md); the datapath
 * indexes it with a hash of the client's tuple. The choice is made once, on the
 * client's SYN, and conntrack pins it for the rest of the connection, so ring
 * updates only affect new connections. A ring is replaced with one map update,
 * which a hash map applies atomically.
 */
#ifndef LBCTL_SERVICE_H
#define LBCTL_SERVICE_H

#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, struct lb_svc_key);
	__type(value, struct lb_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_SERVICES);
	__type(key, __u32); /* service id */
	__type(value, struct lb_maglev_ring);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_maglev SEC(".maps");

static __always_inline struct lb_service *service_lookup(const struct lb_ct_key *t)
{
	struct lb_svc_key k = {};

	addr_copy(k.addr, t->daddr);
	k.port = t->dport;
	k.proto = t->proto;
	k.family = t->family;
	return bpf_map_lookup_elem(&lb_services, &k);
}

/* Hash of the client side of the tuple; also seeds SNAT port candidates. */
static __always_inline __u32 tuple_hash(const struct lb_ct_key *t)
{
	const __u32 *s = (const __u32 *)t->saddr;
	const __u32 *d = (const __u32 *)t->daddr;
	__u32 h = 0x9e3779b9;

	h = hash_mix32(h ^ s[0]) + s[1];
	h = hash_mix32(h ^ s[2]) + s[3];
	h = hash_mix32(h ^ d[0]) + d[3];
	h = hash_mix32(h ^ (((__u32)t->sport << 16) | t->dport));
	return h;
}

/* Pick the backend for a new connection; NULL when the ring slot is empty or stale. */
static __always_inline struct lb_backend *backend_select(const struct lb_service *svc, __u32 hash, __u32 *id_out)
{
	__u32 svc_id = svc->id;
	struct lb_maglev_ring *ring = bpf_map_lookup_elem(&lb_maglev, &svc_id);
	struct lb_backend *be;
	__u32 id, idx;

	if (!ring)
		return 0;
	idx = hash % LB_MAGLEV_SIZE;
	asm volatile("" : "+r"(idx)); /* keep the bound check below: clang knows it is redundant, the verifier does not */
	if (idx >= LB_MAGLEV_SIZE)
		return 0;
	id = ring->backend_ids[idx];
	if (!id)
		return 0;
	be = bpf_map_lookup_elem(&lb_backends, &id);
	if (!be)
		return 0;
	*id_out = id;
	return be;
}

#endif /* LBCTL_SERVICE_H */

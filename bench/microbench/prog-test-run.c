// SPDX-License-Identifier: MIT
/*
 * Micro-benchmark of lbctl_ingress with BPF_PROG_TEST_RUN: the program's own ns per packet on an established
 * fullnat+PPv2 connection (header already sent, timestamps option), client->backend and backend->client, with
 * hot caches and no network stack around it. Deterministic enough to compare small datapath changes that the
 * end-to-end benchmark's noise hides; it says nothing about cache misses or connection set-up. Run it through
 * run.sh (scratch network namespace, devices and neighbours it needs):
 *
 *   sudo bash bench/microbench/run.sh OLD.o NEW.o [...]     (REPEAT=200000 TRIALS=9 by default)
 *   sudo bash bench/microbench/run.sh OBJ.o OBJ.o:2000000:100000   (the same object, the second run with a
 *       2,000,000-entry table holding 100,000 other connections: what a big, busy table costs per packet)
 *
 * Each object is loaded with its maps unpinned (private to this process) and filled with one service and two
 * connections chosen so that the rewritten packet matches the other one (A->VIP becomes SNAT->B, which the
 * second connection turns back into A->VIP; the same for replies): test_run repeats the program on the same
 * skb, so every run translates. Objects alternate, in reversed order every other trial; min and median over
 * trials are printed. Counters other than traffic are printed to stderr (a drop would show there).
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lbctl_abi.h"

/* One object under test, and the connection table it runs with: its size and how many other connections fill it. */
struct obj { struct bpf_object *o; int prog; const char *path; unsigned entries, prefill; char label[96]; };

static int mapfd(struct bpf_object *o, const char *n) {
	struct bpf_map *m = bpf_object__find_map_by_name(o, n);
	if (!m) { fprintf(stderr, "no map %s\n", n); exit(1); }
	return bpf_map__fd(m);
}

static void v4(__u8 *dst, const char *s) { memset(dst, 0, 16); inet_pton(AF_INET, s, dst); }

static void ctkey(struct lb_ct_key *k, const char *sa, int sp, const char *da, int dp) {
	memset(k, 0, sizeof(*k)); v4(k->saddr, sa); v4(k->daddr, da);
	k->sport = htons(sp); k->dport = htons(dp); k->proto = 6; k->family = 4;
}

static void put_conn(int ct, struct lb_ct_key *ok, struct lb_ct_key *rk) {
	struct lb_ct_entry e;
	memset(&e, 0, sizeof(e));
	e.kind = LB_CT_KIND_ORIG; e.peer = *rk; e.state = LB_CT_ESTABLISHED; e.mode = LB_MODE_FULLNAT;
	e.flags = LB_CT_F_PPV2 | LB_CT_F_HDR_SENT; e.ppv2_len = 28; e.svc_id = 2; e.backend_id = 1; e.client_isn = 1000;
	if (bpf_map_update_elem(ct, ok, &e, BPF_ANY)) { perror("ct orig"); exit(1); }
	e.kind = LB_CT_KIND_REPLY; e.peer = *ok; e.state = 0; e.flags |= LB_CT_F_MIRROR;
	if (bpf_map_update_elem(ct, rk, &e, BPF_ANY)) { perror("ct reply"); exit(1); }
}

/* `n` established connections that nothing sends on (60,000 per client address): a busy balancer's table. */
static void prefill(int ct, unsigned n) {
	for (unsigned i = 0; i < n; i++) {
		struct lb_ct_key ok, rk;
		char client[32], snat[32];
		unsigned host = 100 + i / 60000, port = 1024 + i % 60000;
		if (host > 254) { fprintf(stderr, "prefill: at most %u connections\n", 155 * 60000); exit(1); }
		snprintf(client, sizeof(client), "192.0.2.%u", host);
		snprintf(snat, sizeof(snat), "198.51.100.%u", host);
		ctkey(&ok, client, port, "203.0.113.10", 80);
		ctkey(&rk, "198.51.100.2", 80, snat, port);
		put_conn(ct, &ok, &rk);
	}
}

/* fdinfo's memlock line: what the kernel charges for the map. */
static unsigned long long memlock(int fd) {
	char path[64], line[128];
	unsigned long long v = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) if (sscanf(line, "memlock: %llu", &v) == 1) break;
	if (f) fclose(f);
	return v;
}

/* SPEC is OBJ.o, or OBJ.o:ENTRIES:PREFILL to run it with a table of ENTRIES holding PREFILL other connections. */
static struct obj load(const char *spec) {
	struct obj r = {0};
	static char paths[16][512];
	static int used;
	char *p = paths[used++];
	snprintf(p, 512, "%s", spec);
	char *colon = strchr(p, ':');
	if (colon) { *colon = 0; sscanf(colon + 1, "%u:%u", &r.entries, &r.prefill); }
	r.path = p;
	snprintf(r.label, sizeof(r.label), "%.60s%s", strrchr(p, '/') ? strrchr(p, '/') + 1 : p, colon ? " (table)" : "");
	if (colon) snprintf(r.label, sizeof(r.label), "%.40s %u/%u", strrchr(p, '/') ? strrchr(p, '/') + 1 : p, r.prefill, r.entries);
	r.o = bpf_object__open_file(p, NULL);
	if (!r.o) { perror("open"); exit(1); }
	struct bpf_map *m;
	bpf_object__for_each_map(m, r.o) bpf_map__set_pin_path(m, NULL);
	if (r.entries && bpf_map__set_max_entries(bpf_object__find_map_by_name(r.o, "lb_conntrack"), r.entries)) {
		fprintf(stderr, "set max_entries %u failed\n", r.entries); exit(1);
	}
	if (bpf_object__load(r.o)) { fprintf(stderr, "load %s failed\n", r.path); exit(1); }
	r.prog = bpf_program__fd(bpf_object__find_program_by_name(r.o, "lbctl_ingress"));
	__u32 zero = 0, one = 1, two = 2;
	struct lb_config cfg = {.boot_id = 42, .flags = LB_CFG_F_EVENTS};
	bpf_map_update_elem(mapfd(r.o, "lb_config"), &zero, &cfg, BPF_ANY);
	struct lb_svc_key sk = {}; v4(sk.addr, "203.0.113.10"); sk.port = htons(80); sk.proto = 6; sk.family = 4;
	struct lb_service svc = {.id = 2, .mode = LB_MODE_FULLNAT, .flags = LB_SVC_F_PPV2}; v4(svc.snat_addr, "198.51.100.11");
	bpf_map_update_elem(mapfd(r.o, "lb_services"), &sk, &svc, BPF_ANY);
	struct lb_backend be = {.port = htons(80), .family = 4, .weight = 1}; v4(be.addr, "198.51.100.2");
	bpf_map_update_elem(mapfd(r.o, "lb_backends"), &one, &be, BPF_ANY);
	static struct lb_maglev_ring ring; for (int i = 0; i < LB_MAGLEV_SIZE; i++) ring.backend_ids[i] = 1;
	bpf_map_update_elem(mapfd(r.o, "lb_maglev"), &two, &ring, BPF_ANY);
	// X: client A -> VIP V, reply B -> S.  Y: S -> B, reply V -> A. Rewrites alternate A->V / S->B and B->S / V->A.
	int ct = mapfd(r.o, "lb_conntrack");
	struct lb_ct_key xo, xr, yo, yr;
	ctkey(&xo, "192.0.2.10", 40000, "203.0.113.10", 80);
	ctkey(&xr, "198.51.100.2", 80, "198.51.100.11", 40000);
	ctkey(&yo, "198.51.100.11", 40000, "198.51.100.2", 80);
	ctkey(&yr, "203.0.113.10", 80, "192.0.2.10", 40000);
	put_conn(ct, &xo, &xr);
	put_conn(ct, &yo, &yr);
	prefill(ct, r.prefill);
	fprintf(stderr, "%s: lb_conntrack %u entries, memlock %llu B = %.1f B per connection\n", r.label,
		bpf_map__max_entries(bpf_object__find_map_by_name(r.o, "lb_conntrack")), memlock(ct),
		2.0 * memlock(ct) / bpf_map__max_entries(bpf_object__find_map_by_name(r.o, "lb_conntrack")));
	return r;
}

static int build(__u8 *buf, const char *sa, int sp, const char *da, int dp, __u32 seq, __u32 ack, int payload) {
	memset(buf, 0, 2048);
	struct ethhdr *eth = (void *)buf; eth->h_proto = htons(ETH_P_IP);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", 6); memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", 6);
	struct iphdr *ip = (void *)(eth + 1);
	ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = 6; ip->tot_len = htons(20 + 32 + payload);
	inet_pton(AF_INET, sa, &ip->saddr); inet_pton(AF_INET, da, &ip->daddr);
	struct tcphdr *th = (void *)(ip + 1);
	th->source = htons(sp); th->dest = htons(dp); th->seq = htonl(seq); th->ack_seq = htonl(ack);
	th->doff = 8; th->ack = 1; th->psh = 1; th->window = htons(500);
	__u8 *o = (void *)(th + 1); o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
	return 14 + 20 + 32 + payload;
}

int main(int argc, char **argv) {
	int n = argc - 1, repeat = atoi(getenv("REPEAT") ? getenv("REPEAT") : "200000");
	int trials = atoi(getenv("TRIALS") ? getenv("TRIALS") : "7");
	struct obj objs[16];
	for (int i = 0; i < n; i++) objs[i] = load(argv[i + 1]);
	static __u8 orig[2048], reply[2048];
	int lo = build(orig, "192.0.2.10", 40000, "203.0.113.10", 80, 2000, 5000, 100);
	int lr = build(reply, "198.51.100.2", 80, "198.51.100.11", 40000, 5000, 1000000, 300);
	unsigned in_cli = if_nametoindex("mbc"), in_srv = if_nametoindex("mbs");
	__u32 res[16][2][32];
	for (int t = 0; t < trials; t++) {
		for (int k = 0; k < n; k++) {
			int i = (t % 2) ? n - 1 - k : k;
			for (int dir = 0; dir < 2; dir++) {
				struct __sk_buff ctx = {.ingress_ifindex = dir ? in_srv : in_cli, .ifindex = dir ? in_srv : in_cli};
				LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = dir ? reply : orig, .data_size_in = dir ? lr : lo,
					    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
				if (bpf_prog_test_run_opts(objs[i].prog, &opts)) { perror("test_run"); return 1; }
				if (t == 0 && opts.retval != TC_ACT_REDIRECT) fprintf(stderr, "%s dir %d: retval %u, not a redirect\n", objs[i].path, dir, opts.retval);
				res[i][dir][t] = opts.duration;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		int st = mapfd(objs[i].o, "lb_stats"); __u32 slot = 0; int ncpu = libbpf_num_possible_cpus();
		__u64 *vals = calloc(ncpu, sizeof(struct lb_stats)); bpf_map_lookup_elem(st, &slot, vals);
		for (int c = 0; c < LB_CNT__MAX; c++) { __u64 sum = 0; for (int q = 0; q < ncpu; q++) sum += vals[q * LB_CNT__MAX + c]; if (sum && c > 3) fprintf(stderr, "  %s counter %d = %llu\n", objs[i].label, c, (unsigned long long)sum); }
		for (int dir = 0; dir < 2; dir++) {
			__u32 *v = res[i][dir];
			for (int a = 0; a < trials; a++) for (int b = a + 1; b < trials; b++) if (v[b] < v[a]) { __u32 x = v[a]; v[a] = v[b]; v[b] = x; }
			printf("%-48s %-5s min %4u median %4u ns/run\n", objs[i].label, dir ? "reply" : "orig", v[0], v[trials / 2]);
		}
	}
	return 0;
}

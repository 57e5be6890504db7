/* SPDX-License-Identifier: MIT */
/*
 * lbctl datapath ABI: every record stored in a pinned map or sent through the
 * events ring buffer. bpf/ABI.md documents each byte; src/bpf/records.ts is the
 * TypeScript mirror. Change all three together: the _Static_asserts below and
 * the size checks in test/unit/records.test.ts catch a layout that drifted.
 *
 * Conventions: addresses are 16 bytes, IPv4 in the first 4 bytes (network
 * order) and zeros after; ports are in network byte order (as on the wire);
 * every other integer is in host byte order (little endian on x86_64/arm64).
 */
#ifndef LBCTL_ABI_H
#define LBCTL_ABI_H

#include <linux/types.h>
#include <linux/bpf.h>

#define LB_FAMILY_V4 4
#define LB_FAMILY_V6 6

#define LB_PROTO_TCP 6

#define LB_MODE_FULLNAT 1
#define LB_MODE_DNAT 2

/* lb_service.flags */
#define LB_SVC_F_PPV2 0x01      /* inject a PROXY protocol v2 header */
#define LB_SVC_F_UNIQUE_ID 0x02 /* add a PP2_TYPE_UNIQUE_ID TLV (16 bytes) */
#define LB_SVC_F_CRC32C 0x04    /* add a PP2_TYPE_CRC32C TLV computed in the kernel */
#define LB_SVC_F_LIVENESS 0x08  /* control plane only: `lbctl agent` probes the backends */

/* lb_backend.flags */
#define LB_BE_F_DOWN 0x01 /* control plane only: failed its liveness probes, left out of lb_maglev */

/* Service ids index the stats array: slot 0 is global, slot <id> is per service. */
#define LB_MAX_SERVICES 256 /* valid service ids: 1..255 */
#define LB_MAX_BACKENDS 4096
#define LB_MAGLEV_SIZE 4093 /* prime; entries per service lookup ring */
#define LB_TLV_MAX 128      /* bytes of pre-encoded custom TLVs per service */
#define LB_CT_MAX_ENTRIES 131072
#define LB_EVENTS_BYTES (256 * 1024)

/*
 * Largest PPv2 header the datapath builds: 16 fixed + 36 (INET6 addresses) +
 * 19 (UNIQUE_ID TLV) + 7 (CRC32C TLV) + 128 (custom TLVs) + 3 (NOOP pad) = 209.
 */
#define LB_PPV2_MAX_LEN 209
#define LB_EVENT_HDR_MAX 212 /* LB_PPV2_MAX_LEN rounded up to 4 */

struct lb_svc_key {
	__u8 addr[16]; /* VIP */
	__be16 port;   /* VIP port, network order */
	__u8 proto;    /* LB_PROTO_TCP */
	__u8 family;   /* LB_FAMILY_V4 | LB_FAMILY_V6 */
};

struct lb_service {
	__u32 id;      /* 1..LB_MAX_SERVICES-1; stats slot and lb_maglev key */
	__u8 mode;     /* LB_MODE_* */
	__u8 flags;    /* LB_SVC_F_* */
	__u16 tlv_len; /* bytes used in tlvs[] (<= LB_TLV_MAX) */
	__u8 snat_addr[16]; /* fullnat: source address towards backends */
	__u8 tlvs[LB_TLV_MAX]; /* custom TLVs (types 0xE0-0xEF), already encoded */
};

struct lb_backend {
	__u8 addr[16];
	__be16 port;  /* network order */
	__u8 family;  /* must equal the service's family */
	__u8 flags;   /* LB_BE_F_*; the datapath ignores them */
	__u32 weight; /* informational: weights are applied by the control plane when it fills lb_maglev */
};

/* lb_maglev value: backend ids (keys of lb_backends); 0 = empty slot. */
struct lb_maglev_ring {
	__u32 backend_ids[LB_MAGLEV_SIZE];
};

struct lb_ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad; /* always 0 */
};

#define LB_CT_KIND_ORIG 1  /* keyed by client -> VIP; holds the connection state */
#define LB_CT_KIND_REPLY 2 /* keyed by backend -> (SNAT address | client); points at the ORIG key */

#define LB_CT_SYN_SENT 1    /* client SYN seen */
#define LB_CT_ESTABLISHED 2 /* backend SYN-ACK seen */
#define LB_CT_FIN 3         /* a FIN seen in one direction */
#define LB_CT_CLOSED 4      /* FIN seen in both directions, or RST */

/* lb_ct_entry.flags */
#define LB_CT_F_PPV2 0x01      /* connection gets a PPv2 header */
#define LB_CT_F_HDR_SENT 0x02  /* header injected at least once */
#define LB_CT_F_FIN_ORIG 0x04  /* client sent FIN */
#define LB_CT_F_FIN_REPLY 0x08 /* backend sent FIN */
#define LB_CT_F_UNIQUE_ID 0x10 /* the header carries a UNIQUE_ID TLV (the service's choice at SYN time) */
#define LB_CT_F_CRC32C 0x20    /* the header carries a CRC32C TLV (the service's choice at SYN time) */
#define LB_CT_F_TIMER 0x40     /* ORIG: its expiry timer runs (else the janitor expires it) */
#define LB_CT_F_MIRROR 0x80    /* REPLY: mirrors the PPv2 fields and counts backend -> client itself (ABI.md) */

struct lb_ct_entry {
	struct bpf_timer timer; /* opaque, reads as zeros from user space */
	struct lb_ct_key peer;  /* ORIG: the reply-direction key; REPLY: the original key */
	__u8 kind;              /* LB_CT_KIND_* */
	__u8 state;             /* LB_CT_* (ORIG only) */
	__u8 mode;              /* LB_MODE_* */
	__u8 flags;             /* LB_CT_F_* */
	__u16 ppv2_len;         /* PPv2 header length N = sequence shift (0 without PPv2) */
	__u16 pad;
	__u32 svc_id;
	__u32 backend_id;
	__u32 client_isn;       /* sequence number of the client's SYN */
	__u32 reinjections;     /* header re-injections on this connection */
	__u64 created_ns;       /* CLOCK_MONOTONIC */
	__u64 last_seen_ns;     /* CLOCK_MONOTONIC */
	__u64 packets_orig;     /* client -> backend */
	__u64 bytes_orig;
	__u64 packets_reply;    /* backend -> client */
	__u64 bytes_reply;
	__u8 unique_id[16];     /* PP2_TYPE_UNIQUE_ID value: boot id (8, BE) + connection sequence (8, BE) */
};

/* lb_config.flags */
#define LB_CFG_F_EVENTS 0x01 /* emit ring buffer events */
#define LB_CFG_F_HOLD 0x02   /* detach --keep-maps: drop service and tracked packets (bpf/detaching.h) */
#define LB_CFG_F_DRAIN 0x04  /* detach: turn tracked packets into resets to both ends (bpf/detaching.h) */

struct lb_config {
	__u64 boot_id;           /* random per balancer instance; first half of UNIQUE_ID */
	__u32 flags;             /* LB_CFG_F_* */
	__u32 timeout_syn_s;     /* 0 = default (30) */
	__u32 timeout_est_s;     /* 0 = default (900) */
	__u32 timeout_fin_s;     /* 0 = default (60) */
	__u32 timeout_closed_s;  /* 0 = default (10) */
	__u32 pad;
};

#define LB_EV_HDR_INJECTED 1
#define LB_EV_HDR_REINJECTED 2
#define LB_EV_FAILURE 3

struct lb_event {
	__u64 ts_ns;    /* CLOCK_MONOTONIC */
	__u16 type;     /* LB_EV_* */
	__u16 reason;   /* LB_EV_FAILURE: index of the counter that counted it (enum lb_counter) */
	__u32 svc_id;
	__u8 family;
	__u8 pad;
	__be16 sport;   /* client port */
	__be16 dport;   /* VIP port */
	__u16 hdr_len;  /* valid bytes in hdr[] */
	__u8 saddr[16]; /* client address */
	__u8 daddr[16]; /* VIP */
	__u8 hdr[LB_EVENT_HDR_MAX];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct lb_svc_key) == 20, "lb_svc_key size");
_Static_assert(sizeof(struct lb_service) == 152, "lb_service size");
_Static_assert(sizeof(struct lb_backend) == 24, "lb_backend size");
_Static_assert(sizeof(struct lb_maglev_ring) == 4 * LB_MAGLEV_SIZE, "lb_maglev_ring size");
_Static_assert(sizeof(struct lb_ct_key) == 40, "lb_ct_key size");
_Static_assert(sizeof(struct lb_ct_entry) == 144, "lb_ct_entry size");
_Static_assert(sizeof(struct lb_config) == 32, "lb_config size");
_Static_assert(sizeof(struct lb_event) == 272, "lb_event size");
#endif

#endif /* LBCTL_ABI_H */

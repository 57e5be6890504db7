// SPDX-License-Identifier: MIT
/*
 * Development loader for the datapath smoke test, standing in for the koffi
 * loader: open the object, pin its maps under <pin-dir> (all but libbpf's
 * internal .rodata/.bss maps and lb_scratch), load, and attach its first
 * program at tc ingress of each named interface (in the current netns).
 *
 *   tc-load <object> <pin-dir> <ifname>...
 *   tc-load --events <pinned lb_events> <seconds>    print each ring buffer record as one hex line
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int print_event(void *ctx, void *data, size_t size)
{
	const unsigned char *b = data;

	(void)ctx;
	for (size_t i = 0; i < size; i++)
		printf("%02x", b[i]);
	printf("\n");
	fflush(stdout);
	return 0;
}

static int read_events(const char *path, int seconds)
{
	int fd = bpf_obj_get(path);
	struct ring_buffer *rb;

	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return 1;
	}
	rb = ring_buffer__new(fd, print_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "ring buffer %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = 0; i < seconds * 10; i++)
		ring_buffer__poll(rb, 100);
	ring_buffer__free(rb);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	char path[512];
	int err;

	if (argc == 4 && !strcmp(argv[1], "--events"))
		return read_events(argv[2], atoi(argv[3]));
	if (argc < 4) {
		fprintf(stderr, "usage: %s <object> <pin-dir> <ifname>...\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print_libbpf);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);

		if (strchr(name, '.') || !strcmp(name, "lb_scratch"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[2], name);
		if (bpf_map__set_pin_path(map, path)) {
			fprintf(stderr, "pin path %s failed\n", path);
			return 1;
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "load: %s\n", strerror(-err));
		return 1;
	}
	prog = bpf_object__next_program(obj, NULL);
	if (!prog) {
		fprintf(stderr, "no program in %s\n", argv[1]);
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		unsigned int ifindex = if_nametoindex(argv[i]);
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1, .prog_fd = bpf_program__fd(prog));

		if (!ifindex) {
			fprintf(stderr, "no interface %s\n", argv[i]);
			return 1;
		}
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST) {
			fprintf(stderr, "clsact on %s: %s\n", argv[i], strerror(-err));
			return 1;
		}
		err = bpf_tc_attach(&hook, &opts);
		if (err) {
			fprintf(stderr, "attach on %s: %s\n", argv[i], strerror(-err));
			return 1;
		}
	}
	bpf_object__close(obj);
	return 0;
}

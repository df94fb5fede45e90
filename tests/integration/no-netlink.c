/*
 * Runs a command with socket(AF_NETLINK, ...) failing with EAFNOSUPPORT,
 * as under a systemd unit whose RestrictAddressFamilies= leaves netlink
 * out: access.test.mjs starts mcprelayd so to see a failed peer lookup
 * refuse the client while the daemon goes on serving.
 */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define NO_NETLINK_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NO_NETLINK_ARCH	AUDIT_ARCH_AARCH64
#endif

/* The low 32 bits of the first argument. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NO_NETLINK_ARG0	offsetof(struct seccomp_data, args[0])
#else
#define NO_NETLINK_ARG0	(offsetof(struct seccomp_data, args[0]) + 4)
#endif

int
main(int argc, char *argv[])
{
#ifdef NO_NETLINK_ARCH
	struct sock_filter	filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NO_NETLINK_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NO_NETLINK_ARG0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog	prog = {
		(unsigned short)(sizeof filter / sizeof filter[0]), filter
	};

	if (argc < 2) {
		fprintf(stderr, "usage: no-netlink COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1) {
		fprintf(stderr, "no-netlink: seccomp: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-netlink: %s: %s\n", argv[1], strerror(errno));
	return 127;
#else
	fprintf(stderr, "no-netlink: no seccomp filter for this architecture\n");
	return 77;
#endif
}

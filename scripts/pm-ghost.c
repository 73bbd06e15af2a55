/*
 * pm-ghost: a tiny process tree for scripts/make-criu-ghost.sh to checkpoint with CRIU.
 * It plants, with known bytes, what podmortem reads back from the images:
 *   fd 3  /tmp/pm-ghost.bin, unlinked while open (and mapped): "GHOST_PAYLOAD_" + 4096
 *         bytes 'A' + i % 26 (a small ghost file: contents raw after the entry)
 *   fd 4  /tmp/pm-ghost-sparse.bin, unlinked: 64 KiB, "SPARSE_HEAD" at 0 and "SPARSE_TAIL"
 *         at 40960, holes elsewhere (a ghost file of 12 KiB or more: stored in chunks)
 *   fd 5  memfd "pm-memfd" holding "MEMFD_PAYLOAD"
 *   fd 6  a TCP listener on 127.0.0.1
 *   fd 7  the TCP client: its receive queue holds "TCP_REPLY_UNREAD" (never read), its send
 *         queue the tail of a "TCP_SENDQ_%06u|" stream the peer does not read
 *   fd 8/9 a unix stream socketpair; "UNIX_QUEUED_MSG" waits unread on fd 9
 * The child (the server side) keeps the accepted connection, fd 3 in it, whose receive
 * queue holds the head of the stream. Both then sleep. The parent writes its pid and the
 * port to the file named by argv[1] when everything is in place.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void put(int fd, const void *buf, size_t len, off_t off)
{
	if (pwrite(fd, buf, len, off) != (ssize_t)len)
		die("pwrite");
}

/* Moves fd to number want (want must be free). */
static int at(int fd, int want)
{
	if (fd == want)
		return fd;
	if (dup2(fd, want) != want)
		die("dup2");
	close(fd);
	return want;
}

int main(int argc, char **argv)
{
	static char buf[4096 + 14];
	if (argc != 2) {
		fprintf(stderr, "usage: pm-ghost READY_FILE\n");
		return 2;
	}
	close_range(3, ~0U, 0); /* nothing inherited beyond stdio */

	/* (a) the small ghost file, open and mapped, then unlinked */
	memcpy(buf, "GHOST_PAYLOAD_", 14);
	for (int i = 0; i < 4096; i++)
		buf[14 + i] = 'A' + i % 26;
	int g = at(open("/tmp/pm-ghost.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), 3);
	put(g, buf, sizeof(buf), 0);
	if (mmap(NULL, sizeof(buf), PROT_READ, MAP_PRIVATE, g, 0) == MAP_FAILED)
		die("mmap");
	unlink("/tmp/pm-ghost.bin");

	/* the sparse ghost file */
	int s = at(open("/tmp/pm-ghost-sparse.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), 4);
	if (ftruncate(s, 65536))
		die("ftruncate");
	put(s, "SPARSE_HEAD", 11, 0);
	put(s, "SPARSE_TAIL", 11, 40960);
	fsync(s);
	unlink("/tmp/pm-ghost-sparse.bin");

	/* (b) the memfd */
	int m = at(memfd_create("pm-memfd", 0), 5);
	put(m, "MEMFD_PAYLOAD", 13, 0);

	/* (c) TCP over loopback: small buffers so the stream stops in both queues */
	int small = 4096, one = 1;
	int l = at(socket(AF_INET, SOCK_STREAM, 0), 6);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	if (bind(l, (struct sockaddr *)&sa, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		die("listen");
	int c = at(socket(AF_INET, SOCK_STREAM, 0), 7);
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	int a = accept(l, NULL, NULL);
	if (a < 0)
		die("accept");
	a = at(a, 10); /* the child's, out of the way of fds 8 and 9 */
	if (write(a, "TCP_REPLY_UNREAD", 16) != 16)
		die("write reply");
	fcntl(c, F_SETFL, O_NONBLOCK);
	/*
	 * Write until the socket pushes back, three times with a pause between: the peer's
	 * receive window fills and closes, and what is written after stays in our send queue.
	 */
	unsigned long total = 0;
	unsigned n = 0;
	for (int round = 0; round < 3; round++) {
		for (;; n++) {
			char rec[18];
			snprintf(rec, sizeof(rec), "TCP_SENDQ_%06u|", n);
			ssize_t w = write(c, rec, 17);
			if (w <= 0)
				break;
			total += w;
			if (w < 17) { /* a record cut short ends the stream */
				round = 3;
				break;
			}
		}
		usleep(100000);
	}

	/* (d) a unix socketpair with a message nobody reads */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	int u0 = at(sv[0], 8), u1 = at(sv[1], 9);
	(void)u1;
	if (write(u0, "UNIX_QUEUED_MSG", 15) != 15)
		die("write unix");

	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close_range(3, 9, 0);
		at(a, 3);
		for (;;)
			pause();
	}
	close(a);

	FILE *f = fopen(argv[1], "w");
	if (!f)
		die("ready file");
	fprintf(f, "pid=%d child=%d port=%d stream_bytes=%lu\n", getpid(), child,
		ntohs(sa.sin_port), total);
	fclose(f);
	for (;;)
		pause();
}

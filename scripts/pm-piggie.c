/*
 * pm-piggie: the process tree of checkpointctl's test workload ("piggie --tcp-socket
 * --zombie"), written for podmortem's tests from a description of what that workload does
 * (no code taken from it), so that scripts/make-criu-piggie.sh can dump it with CRIU and
 * tests/criu_piggie_real.rs can check podmortem against what checkpointctl's own tests
 * expect of such a dump.
 *
 *   piggie            pid 1 of a new pid namespace, in a new network namespace (lo up),
 *                     session leader; never reaps its children
 *   |- tcp-server     listens on 0.0.0.0:5000, a tcp-conn handler per connection
 *   |  `- tcp-conn    reads the client's pings
 *   |- tcp-client     connected to 127.0.0.1:5000, sends "ping" every second
 *   |- piggie-zombie  forked two children and exited: dead, never reaped
 *   |- stopped-child  stopped by SIGSTOP (the zombie's child, now piggie's)
 *   `- alive-child    sleeps (the zombie's child, now piggie's)
 *
 * The environment is the caller's (make-criu-piggie.sh passes TEST_ENV=BAR and an empty
 * TEST_ENV_EMPTY=). Usage: pm-piggie READY_FILE. When the whole tree is in place it writes
 * "pid=N" (piggie's pid outside its namespace) to READY_FILE and exits, leaving the tree
 * running. No stdio: static builds stay small (few pages to dump).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT 5000

/* The readiness pipe: each part of the tree writes one letter when it is in place. */
static int ready_r = -1, ready_w = -1;

static void say(const char *s)
{
	(void)!write(2, s, strlen(s));
}

static void die(const char *what)
{
	say("pm-piggie: ");
	say(what);
	say(" failed\n");
	_exit(1);
}

static void ready(char what)
{
	if (write(ready_w, &what, 1) != 1)
		die("ready");
}

static void name(const char *n)
{
	prctl(PR_SET_NAME, n, 0, 0, 0);
}

static void forever(void)
{
	for (;;)
		pause();
}

/* Brings lo up in the new network namespace (what `ip link set up dev lo` does). */
static void lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0)
		die("socket(lo)");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS");
	close(s);
}

static void tcp_server(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int one = 1, l;

	if (fork() != 0)
		return;
	name("tcp-server");
	signal(SIGCHLD, SIG_IGN); /* handlers are reaped by the kernel */
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 5))
		die("listen");
	ready('L');
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			char buf[64];
			name("tcp-conn");
			close(l);
			ready('H');
			close(ready_w);
			while (recv(c, buf, sizeof(buf), 0) > 0)
				;
			_exit(0);
		}
		close(c);
		/* One client is expected: nothing more to announce. */
		if (ready_w >= 0) {
			close(ready_w);
			ready_w = -1;
		}
	}
}

static void tcp_client(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int s;

	if (fork() != 0)
		return;
	name("tcp-client");
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	ready('C');
	close(ready_w);
	for (;;) {
		if (send(s, "ping", 4, 0) != 4)
			die("send");
		sleep(1);
	}
}

/* A child that forks a stopped and a sleeping child, then exits unreaped. */
static pid_t zombie(void)
{
	pid_t z = fork(), stopped, alive;
	int st;

	if (z != 0)
		return z;
	name("piggie-zombie");
	stopped = fork();
	if (stopped == 0) {
		name("stopped-child");
		close(ready_w);
		raise(SIGSTOP);
		forever();
	}
	if (waitpid(stopped, &st, WUNTRACED) != stopped || !WIFSTOPPED(st))
		die("stop");
	alive = fork();
	if (alive == 0) {
		name("alive-child");
		ready('A');
		close(ready_w);
		for (;;)
			sleep(1);
	}
	_exit(0);
}

static int init(void *arg)
{
	siginfo_t si;
	pid_t z;
	int fd;

	(void)arg;
	close(ready_r);
	setsid();
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)");
	lo_up();
	tcp_server();
	tcp_client();
	z = zombie();
	/* Dead but not reaped: looked at without waiting it away. */
	if (waitid(P_PID, z, &si, WEXITED | WNOWAIT))
		die("waitid");
	ready('Z');
	close(ready_w);
	forever();
	return 0;
}

int main(int argc, char **argv)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	char got[16], line[32];
	int p[2], n = 0, fd, len;
	pid_t pid;

	if (argc != 2) {
		say("usage: pm-piggie READY_FILE\n");
		return 2;
	}
	/* Nothing of the caller's but stdin, stdout and stderr. */
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	if (pipe(p))
		die("pipe");
	ready_r = p[0];
	ready_w = p[1];
	pid = clone(init, stack + sizeof(stack), CLONE_NEWPID | SIGCHLD, NULL);
	if (pid < 0)
		die("clone(CLONE_NEWPID)");
	close(p[1]);
	/* Until every part has written its letter and closed the pipe. */
	for (;;) {
		ssize_t r = read(p[0], got + n, sizeof(got) - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	got[n] = 0;
	if (!strchr(got, 'L') || !strchr(got, 'H') || !strchr(got, 'C') || !strchr(got, 'A') ||
	    !strchr(got, 'Z')) {
		say("pm-piggie: the tree did not come up\n");
		kill(pid, SIGKILL);
		return 1;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open READY_FILE");
	strcpy(line, "pid=");
	len = 4;
	{
		char digits[16];
		int k = 0;
		for (pid_t v = pid; v > 0; v /= 10)
			digits[k++] = '0' + v % 10;
		while (k > 0)
			line[len++] = digits[--k];
	}
	line[len++] = '\n';
	if (write(fd, line, len) != len)
		die("write READY_FILE");
	close(fd);
	return 0;
}

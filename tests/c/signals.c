/* Timer-signal storm: ITIMER_REAL fires every INTERVAL µs; the SIGALRM handler makes system calls
 * (through libc and raw ones in this binary) and checks their results. The first half of the run
 * uses the normal stack, the second half an alternate stack (sigaltstack + SA_ONSTACK), which the
 * handler verifies. The main loop makes system calls and checks every result.
 * Usage: signals [iterations] [interval-µs] [min-signals-per-half] */
#include "common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#define ALTSTACK_SIZE (SIGSTKSZ)

static pid_t pid;
static int devnull;
static char *altstack;
static volatile sig_atomic_t on_alt;
static atomic_long handled[2];
static atomic_long handler_errors;

static void handler(int sig)
{
	int saved_errno = errno;
	char here;
	int in_alt = &here >= altstack && &here < altstack + ALTSTACK_SIZE;
	int phase = on_alt;

	if (sig != SIGALRM || in_alt != phase)
		atomic_fetch_add(&handler_errors, 1);
	if (syscall(SYS_getpid) != pid)
		atomic_fetch_add(&handler_errors, 1);
	if (raw_syscall0(SYS_getpid) != pid)
		atomic_fetch_add(&handler_errors, 1);
	if (write(devnull, "signal", 6) != 6)
		atomic_fetch_add(&handler_errors, 1);
	errno = 0;
	if (close(-1) != -1 || errno != EBADF)
		atomic_fetch_add(&handler_errors, 1);
	atomic_fetch_add(&handled[phase], 1);
	errno = saved_errno;
}

static void install(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART | flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
}

static void work(long i, int p[2], struct timespec *prev)
{
	long r = raw_syscall0(SYS_getpid);
	CHECK(r == pid, "raw getpid = %ld", r);
	CHECK(getpid() == pid, "getpid");

	char out[24], in[24];
	memset(out, 0, sizeof out);
	snprintf(out, sizeof out, "msg %ld", i);
	r = write(p[1], out, sizeof out);
	CHECK(r == (long)sizeof out, "write to pipe = %ld (%s)", r, strerror(errno));
	r = read(p[0], in, sizeof in);
	CHECK(r == (long)sizeof in && memcmp(in, out, sizeof in) == 0, "read from pipe = %ld", r);

	struct timespec ts;
	r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	CHECK(r == 0, "clock_gettime = %ld", r);
	CHECK(ts.tv_sec > prev->tv_sec || (ts.tv_sec == prev->tv_sec && ts.tv_nsec >= prev->tv_nsec),
	      "CLOCK_MONOTONIC went backwards");
	*prev = ts;

	errno = 0;
	r = syscall(SYS_close, -1);
	CHECK(r == -1 && errno == EBADF, "close(-1) = %ld errno %d", r, errno);
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 100000;
	long interval = argc > 2 ? atol(argv[2]) : 200;
	long min_signals = argc > 3 ? atol(argv[3]) : 50;
	/* However slow the machine, stop after this many iterations per half. */
	long cap = iterations * 1000;

	pid = getpid();
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int p[2];
	CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));

	altstack = malloc(ALTSTACK_SIZE);
	stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack: %s", strerror(errno));

	install(0);
	struct itimerval it = {{0, interval}, {0, interval}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer: %s", strerror(errno));

	struct timespec prev = {0, 0};
	for (int phase = 0; phase < 2; phase++) {
		if (phase == 1) {
			sigset_t alrm, old;
			sigemptyset(&alrm);
			sigaddset(&alrm, SIGALRM);
			sigprocmask(SIG_BLOCK, &alrm, &old);
			install(SA_ONSTACK);
			on_alt = 1;
			sigprocmask(SIG_SETMASK, &old, NULL);
		}
		long i = 0;
		while ((i < iterations / 2 || atomic_load(&handled[phase]) < min_signals) && i < cap)
			work(i++, p, &prev);
	}

	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);

	CHECK(atomic_load(&handler_errors) == 0, "%ld wrong results in the signal handler",
	      atomic_load(&handler_errors));
	printf("signals: normal stack: %s\n",
	       atomic_load(&handled[0]) >= min_signals ? "enough signals" : "too few signals");
	printf("signals: alternate stack: %s\n",
	       atomic_load(&handled[1]) >= min_signals ? "enough signals" : "too few signals");
	fprintf(stderr, "signals handled: %ld on the normal stack, %ld on the alternate stack\n",
		atomic_load(&handled[0]), atomic_load(&handled[1]));
	int status = zpt_exit_status();
	printf("signals: %s\n", status ? "FAILED" : "OK");
	fflush(stdout);
	return status;
}

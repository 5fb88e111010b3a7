/* vfork loop: vfork + _exit, vfork + execve /bin/true and vfork + failing execve + _exit. The
 * parent checks that its locals (a checksum over a stack array and values kept in callee-saved
 * registers) survived every child, and returns normally from each round (its return addresses
 * survived). Usage: vfork [rounds] */
#include "common.h"

#include <sys/wait.h>

extern char **environ;

static __attribute__((noinline)) unsigned long checksum(volatile unsigned long *p, int n)
{
	unsigned long s = 0x9e3779b97f4a7c15ul;
	for (int i = 0; i < n; i++)
		s = (s ^ p[i]) * 0x100000001b3ul;
	return s;
}

/* One round; kind 0: _exit, 1: execve /bin/true, 2: execve of a missing file then _exit. */
static __attribute__((noinline)) int vfork_round(int round, int kind)
{
	volatile unsigned long locals[32];
	for (int i = 0; i < 32; i++)
		locals[i] = (unsigned long)round * 0x1000193ul + (unsigned long)i * 0x5bd1e995ul;
	volatile unsigned long before = checksum(locals, 32);
	unsigned long keep = before ^ 0xa5a5a5a5a5a5a5a5ul;
	__asm__ volatile("" : "+r"(keep));
	void *ra = __builtin_return_address(0);

	pid_t child = vfork();
	if (child == 0) {
		if (kind == 1) {
			char *argv[] = {"true", NULL};
			execve("/bin/true", argv, environ);
			_exit(126);
		}
		if (kind == 2) {
			char *argv[] = {"missing", NULL};
			execve("/nonexistent/zpoline-test-missing", argv, environ);
			_exit(errno == ENOENT ? 42 : 125);
		}
		_exit(round & 0x7f);
	}
	CHECK(child > 0, "vfork: %s", strerror(errno));
	int status = 0;
	pid_t w = waitpid(child, &status, 0);
	CHECK(w == child, "waitpid = %d: %s", w, strerror(errno));
	int expected = kind == 0 ? (round & 0x7f) : kind == 1 ? 0 : 42;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == expected,
	      "round %d kind %d: child status 0x%x, expected exit %d", round, kind, status, expected);

	__asm__ volatile("" : "+r"(keep));
	CHECK(checksum(locals, 32) == before, "round %d kind %d: parent's stack locals changed", round, kind);
	CHECK((keep ^ 0xa5a5a5a5a5a5a5a5ul) == before, "round %d kind %d: parent's register local changed",
	      round, kind);
	CHECK(__builtin_return_address(0) == ra, "round %d: return address changed", round);
	return round;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 300;
	for (int r = 0; r < rounds; r++) {
		int got = vfork_round(r, r % 3);
		CHECK(got == r, "vfork_round(%d) returned %d", r, got);
	}
	printf("vfork: %d rounds\n", rounds);
	int status = zpt_exit_status();
	printf("vfork: %s\n", status ? "FAILED" : "OK");
	return status;
}

/* fork + waitpid loop: each child checks getpid, writes to a pipe and exits with a known code.
 * Usage: fork [rounds] */
#include "common.h"

#include <sys/wait.h>

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	pid_t parent = getpid();
	for (int r = 0; r < rounds; r++) {
		int p[2];
		CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
		pid_t child = fork();
		if (child == 0) {
			close(p[0]);
			pid_t me = getpid();
			int ok = me != parent && getppid() == parent && raw_syscall0(SYS_getpid) == me;
			char msg[32];
			int n = snprintf(msg, sizeof msg, "child %d %s", r, ok ? "ok" : "bad");
			if (write(p[1], msg, n) != n)
				_exit(120);
			_exit(r % 100);
		}
		CHECK(child > 0, "fork: %s", strerror(errno));
		close(p[1]);
		char buf[64] = {0};
		ssize_t n = read(p[0], buf, sizeof buf - 1);
		close(p[0]);
		char want[32];
		snprintf(want, sizeof want, "child %d ok", r);
		CHECK(n > 0 && strcmp(buf, want) == 0, "round %d: child said '%s'", r, buf);
		int status = 0;
		CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == r % 100, "round %d: status 0x%x", r, status);
	}
	printf("fork: %d rounds\n", rounds);
	int status = zpt_exit_status();
	printf("fork: %s\n", status ? "FAILED" : "OK");
	return status;
}

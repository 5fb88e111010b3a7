/* A fork child and a vfork child each call getppid, then exit; the parent prints the pids.
 * Used to check that tools attribute each call to the process that made it. */
#include "common.h"

#include <sys/wait.h>

int main(void)
{
	pid_t me = getpid();
	printf("parent %d\n", me);
	fflush(stdout);
	pid_t p = fork();
	CHECK(p >= 0, "fork failed");
	if (p == 0) {
		syscall(SYS_getppid);
		_exit(0);
	}
	printf("fork child %d\n", p);
	waitpid(p, 0, 0);
	p = vfork();
	CHECK(p >= 0, "vfork failed");
	if (p == 0) {
		syscall(SYS_getppid);
		_exit(0);
	}
	printf("vfork child %d\n", p);
	waitpid(p, 0, 0);
	return 0;
}

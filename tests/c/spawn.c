/* posix_spawn loop: /bin/true, /bin/sh -c 'exit 3' and /bin/echo, checking every exit status.
 * Usage: spawn [rounds] */
#include "common.h"

#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static void spawn_and_wait(const char *path, char *const argv[], int expected)
{
	pid_t child;
	int e = posix_spawn(&child, path, NULL, NULL, argv, environ);
	CHECK(e == 0, "posix_spawn %s: %s", path, strerror(e));
	if (e)
		return;
	int status = 0;
	pid_t w = waitpid(child, &status, 0);
	CHECK(w == child, "waitpid: %s", strerror(errno));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == expected, "%s: status 0x%x, expected exit %d", path,
	      status, expected);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;
	char *true_argv[] = {"true", NULL};
	char *sh_argv[] = {"sh", "-c", "exit 3", NULL};
	char *echo_argv[] = {"echo", "spawned echo", NULL};

	for (int r = 0; r < rounds; r++)
		spawn_and_wait("/bin/true", true_argv, 0);
	for (int r = 0; r < 10; r++)
		spawn_and_wait("/bin/sh", sh_argv, 3);
	fflush(stdout);
	for (int r = 0; r < 3; r++)
		spawn_and_wait("/bin/echo", echo_argv, 0);

	/* A spawn that fails in the child (missing file) reports the error to the parent. */
	pid_t child;
	int e = posix_spawn(&child, "/nonexistent/zpoline-test-missing", NULL, NULL, true_argv, environ);
	CHECK(e == ENOENT, "posix_spawn of a missing file returned %d (%s)", e, strerror(e));

	printf("spawn: %d rounds\n", rounds);
	int status = zpt_exit_status();
	printf("spawn: %s\n", status ? "FAILED" : "OK");
	return status;
}

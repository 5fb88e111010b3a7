/* execve of /bin/echo (after some output of our own, flushed). */
#include "common.h"

extern char **environ;

int main(void)
{
	printf("exec: before execve\n");
	fflush(stdout);
	char *argv[] = {"echo", "hello", "from", "execve", NULL};
	execve("/bin/echo", argv, environ);
	fprintf(stderr, "execve: %s\n", strerror(errno));
	return 1;
}

/* Prints the effective user and group ids and where /proc/self/exe points: a set-group-ID
 * copy of it must get its group as natively, through the launcher too. */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char exe[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0)
		exe[n] = 0;
	printf("euid=%d egid=%d exe=%s\n", (int)geteuid(), (int)getegid(), exe);
	return 0;
}

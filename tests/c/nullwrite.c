/* Writes to address 0: dies of SIGSEGV, natively and under the runtime (the trampoline page at 0
 * must not be writable). */
#include "common.h"

int main(void)
{
	printf("nullwrite: before\n");
	fflush(stdout);
	*(volatile int *)0 = 1;
	printf("nullwrite: survived a write to NULL\n");
	return 0;
}

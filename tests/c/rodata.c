/* Read-only data that holds the bytes of syscall (0f 05) and sysenter (0f 34). Linked with
 * -z noseparate-code it shares the executable segment with the code, where the runtime must
 * leave it alone (only instructions are rewritten). Prints the bytes and makes a system call. */
#include <stdio.h>
#include <unistd.h>

static const unsigned char data[] = {0x0f, 0x05, 0x0f, 0x34, 0x90, 0x90, 0x0f, 0x05,
				     0x0f, 0x05, 'h',  'e',  'l',  'l',  'o',  0x0f, 0x34};

int main(void)
{
	for (unsigned i = 0; i < sizeof data; i++)
		printf("%02x", data[i]);
	printf(" pid>0: %d\n", getpid() > 0);
	return 0;
}

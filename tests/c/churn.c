/* Starts and joins N threads one after the other (argv[1], default 10000), then prints its
 * resident memory in KiB: under the launcher's loader each thread gets a TLS block of the
 * launcher's libc, which must be given back (the RSS must not grow with N). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *run(void *arg) { return arg; }

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, run, NULL) || pthread_join(t, NULL))
			return 1;
	}
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			printf("%ld\n", atol(line + 6));
	return 0;
}

/* A program for the launcher's own ELF loader (`zpoline load`), built static and static-pie:
 * prints its arguments, one environment variable, what its auxiliary vector says, then uses
 * thread-local storage, pthreads and malloc and reads a file. Prints only what the native run
 * prints too. Usage: loadee FILE [ARGS...] (FILE is read and its size printed). */
#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#define NTHREADS 8

extern char _start[];

static __thread long tls_counter = 7;

static void *worker(void *arg)
{
	long id = (long)arg;
	CHECK(tls_counter == 7, "thread %ld: TLS initial value %ld", id, tls_counter);
	for (long i = 0; i < 1000; i++) {
		tls_counter += i;
		char *p = malloc(16 + (size_t)i * 8);
		CHECK(p != NULL, "thread %ld: malloc failed", id);
		memset(p, (int)id, 16);
		free(p);
	}
	return (void *)(tls_counter + id);
}

int main(int argc, char **argv)
{
	printf("argc %d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d] %s\n", i, argv[i]);
	const char *v = getenv("ZPTEST_LOADER_VAR");
	printf("ZPTEST_LOADER_VAR %s\n", v ? v : "(unset)");

	printf("AT_PAGESZ nonzero %d\n", getauxval(AT_PAGESZ) != 0);
	printf("AT_ENTRY is _start %d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
	printf("AT_BASE nonzero %d\n", getauxval(AT_BASE) != 0); /* the interpreter's bias */
	printf("AT_PHENT %lu\n", getauxval(AT_PHENT));
	printf("AT_RANDOM set %d\n", getauxval(AT_RANDOM) != 0);
	printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	printf("AT_EXECFN is argv[0] %d\n", execfn && strcmp(execfn, argv[0]) == 0);
	const char *platform = (const char *)getauxval(AT_PLATFORM);
	printf("AT_PLATFORM %s\n", platform ? platform : "(none)");
	printf("AT_SYSINFO_EHDR set %d\n", getauxval(AT_SYSINFO_EHDR) != 0);

	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0, "pthread_create %ld", i);
	long sum = 0;
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		CHECK(pthread_join(t[i], &r) == 0, "pthread_join %d", i);
		sum += (long)r;
	}
	printf("threads sum %ld, main TLS %ld\n", sum, tls_counter);

	size_t big = 64 << 20;
	char *m = malloc(big);
	CHECK(m != NULL, "malloc(64 MiB) failed");
	if (m) {
		memset(m, 1, big);
		long s = 0;
		for (size_t i = 0; i < big; i += 4096)
			s += m[i];
		printf("big malloc pages %ld\n", s);
		free(m);
	}

	if (argc > 1) {
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0, "open %s: %s", argv[1], strerror(errno));
		long total = 0;
		char buf[4096];
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
			total += n;
		struct stat st;
		CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == total, "size of %s", argv[1]);
		printf("read %s: %ld bytes\n", argv[1], total);
		if (fd >= 0)
			close(fd);
	}

	int status = zpt_exit_status();
	printf("loadee: %s\n", status ? "FAILED" : "OK");
	return status;
}

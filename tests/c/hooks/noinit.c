/* A valid shared library without __hook_init: the runtime must refuse it. */
int zpoline_test_not_a_hook(void)
{
	return 42;
}

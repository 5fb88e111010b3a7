/* A hook whose __hook_init fails (returns -1): the runtime must stop before main. */
int __hook_init(long placeholder __attribute__((unused)), void *sys_call_hook_ptr __attribute__((unused)))
{
	return -1;
}

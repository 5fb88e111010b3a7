# Python writes machine code into an executable mmap and calls it with ctypes: code that did
# not exist at start-up makes raw system calls.
import ctypes
import mmap
import os

code = bytes([0xB8, 0x66, 0, 0, 0, 0x0F, 0x05, 0xC3])  # mov $102 (getuid),%eax; syscall; ret
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
f = ctypes.CFUNCTYPE(ctypes.c_long)(addr)
assert all(f() == os.getuid() for _ in range(5))
print("ctypes: OK")

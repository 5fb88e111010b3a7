package main

/*
#include <unistd.h>
static int cpid(void) { return getpid(); }
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("%s/f%d", os.TempDir(), i)
			if err := os.WriteFile(name, []byte("hello"), 0o644); err != nil {
				panic(err)
			}
			b, err := os.ReadFile(name)
			if err != nil || string(b) != "hello" {
				panic("bad read")
			}
			os.Remove(name)
		}(i)
	}
	wg.Wait()
	fmt.Println("go ok", int(C.cpid()) == os.Getpid())
}

package main

/*
#include <unistd.h>
static int cpid(void) { return getpid(); }
*/
import "C"

import (
	"fmt"
	"os/exec"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := exec.Command("/bin/echo", fmt.Sprint("child", i)).Output()
			if err != nil || len(out) == 0 {
				panic(fmt.Sprint("exec failed: ", err))
			}
		}(i)
	}
	wg.Wait()
	fmt.Println("go exec ok", C.cpid() > 0)
}

// A statically linked Go program (CGO_ENABLED=0: Go's own system calls, no libc) for the
// launcher's loader: goroutines on many threads, file I/O, timers, the garbage collector and
// preemption signals.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(4)
	dir, err := os.MkdirTemp("", "zp-gostatic-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	var wg sync.WaitGroup
	results := make(chan int, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := filepath.Join(dir, fmt.Sprintf("f%d", i))
			data := make([]byte, 64*1024)
			for j := range data {
				data[j] = byte(i + j)
			}
			if err := os.WriteFile(name, data, 0o644); err != nil {
				panic(err)
			}
			b, err := os.ReadFile(name)
			if err != nil || len(b) != len(data) || b[100] != data[100] {
				panic("bad read")
			}
			// Busy work long enough for the scheduler to preempt with signals.
			sum := 0
			for k := 0; k < 3_000_000; k++ {
				sum += k ^ i
			}
			time.Sleep(time.Millisecond)
			results <- sum & 1
		}(i)
	}
	wg.Wait()
	close(results)
	n := 0
	for range results {
		n++
	}
	runtime.GC()
	host, _ := os.Hostname()
	fmt.Println("go static ok", n, host != "", os.Getpid() > 0)
}

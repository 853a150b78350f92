// The seed-004 workload with Go's cgo.Handle: the same C driver as ../seed004.c (N C worker
// threads share 10,000,000 tasks), but each task's callback is an exported Go function that
// resolves a cgo.Handle and copies the 32-byte value behind it into the caller's buffer.
//
// Build:  go build -o seed004-go .      Usage: seed004-go [workers [tasks]]
package main

/*
#include <stdint.h>
int run_workers(int workers, long tasks, uintptr_t handle, double *took_ms, unsigned long *check);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"runtime/cgo"
	"strconv"
	"unsafe"
)

// goGetValue is the per-task callback C calls: look the value up through the handle and copy
// its 32 bytes out.
//
//export goGetValue
func goGetValue(handle C.uintptr_t, out *C.uint8_t) C.int {
	value, ok := cgo.Handle(handle).Value().(*[32]byte)
	if !ok {
		return 0
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), 32), value[:])
	return 1
}

func main() {
	workers := runtime.NumCPU()
	tasks := 10_000_000
	if len(os.Args) > 1 {
		workers, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		tasks, _ = strconv.Atoi(os.Args[2])
	}
	var value [32]byte
	for i := range value {
		value[i] = byte(i + 1)
	}
	h := cgo.NewHandle(&value)
	defer h.Delete()

	var took C.double
	var check C.ulong
	bad := C.run_workers(C.int(workers), C.long(tasks), C.uintptr_t(h), &took, &check)
	var expect uint64
	for t := 0; t < tasks; t++ {
		expect += uint64(t%32) + 1
	}
	status := ""
	if bad != 0 || uint64(check) != expect {
		status = "  CHECKSUM MISMATCH"
	}
	ms := float64(took)
	fmt.Printf("workers = %d\ntasks = %d\ntook %.1f ms (%.1f ns/task, %.2f Mtasks/s)%s\n",
		workers, tasks, ms, ms*1e6/float64(tasks), float64(tasks)/ms/1e3, status)
	if status != "" {
		os.Exit(1)
	}
}

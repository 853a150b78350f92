/* Cost of C->Rust calls, measured from C (links the `testing` build of libhdl.a):
 *   empty        hdl_testing_empty(h): an empty extern "C" Rust function (the baseline)
 *   scoped       hdl_testing_static_get(h): a Rust entry doing a scoped lookup in a static
 *                HandleTable<u64> (a Rust library exposing its objects to C, as in the README)
 *   lookup+rel   hdl_lookup(h, tag, &p) + hdl_release(h) on the C registry
 *   retain+rel   hdl_retain(h) + hdl_release(h)
 *   is_live      hdl_is_live(h)
 *
 * Usage: bench_calls [iterations [repeats]]      prints the median ns per call
 *        bench_calls --one NAME iterations       runs one loop (for callgrind --toggle-collect)
 */
#define _POSIX_C_SOURCE 199309L
#include "common.h"

#include <time.h>

static uint64_t registry_handle, static_handle;
static volatile uint64_t sink;

__attribute__((noinline)) static void loop_empty(long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += hdl_testing_empty(static_handle);
    sink = acc;
}

__attribute__((noinline)) static void loop_scoped(long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += hdl_testing_static_get(static_handle);
    sink = acc;
}

__attribute__((noinline)) static void loop_lookup_release(long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) {
        void *p;
        acc += (uint64_t)hdl_lookup(registry_handle, 1, &p);
        acc += (uint64_t)hdl_release(registry_handle);
    }
    sink = acc;
}

__attribute__((noinline)) static void loop_retain_release(long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) {
        acc += (uint64_t)hdl_retain(registry_handle);
        acc += (uint64_t)hdl_release(registry_handle);
    }
    sink = acc;
}

__attribute__((noinline)) static void loop_is_live(long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += hdl_is_live(registry_handle);
    sink = acc;
}

struct bench {
    const char *name;
    void (*loop)(long);
};

static const struct bench benches[] = {
    {"empty", loop_empty},
    {"scoped", loop_scoped},
    {"lookup+release", loop_lookup_release},
    {"retain+release", loop_retain_release},
    {"is_live", loop_is_live},
};
#define NBENCH (sizeof benches / sizeof benches[0])

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    static int object = 1;
    CHECK_STATUS(hdl_insert(&object, 1, NULL, &registry_handle), HDL_STATUS_OK);
    static_handle = hdl_testing_static_insert(42);
    CHECK(hdl_testing_static_get(static_handle) == 42);

    if (argc == 4 && strcmp(argv[1], "--one") == 0) {
        for (size_t b = 0; b < NBENCH; b++)
            if (strcmp(argv[2], benches[b].name) == 0) benches[b].loop(atol(argv[3]));
    } else {
        long n = argc > 1 ? atol(argv[1]) : 20000000;
        int repeats = argc > 2 ? atoi(argv[2]) : 5;
        double empty = 0;
        printf("%-16s %10s %12s   (median of %d runs of %ld calls)\n", "call", "ns/call",
               "vs empty", repeats, n);
        for (size_t b = 0; b < NBENCH; b++) {
            double t[64];
            benches[b].loop(n / 10); /* warm up */
            for (int r = 0; r < repeats && r < 64; r++) {
                double start = now_ns();
                benches[b].loop(n);
                t[r] = (now_ns() - start) / (double)n;
            }
            qsort(t, (size_t)repeats, sizeof t[0], cmp_double);
            double median = t[repeats / 2];
            if (b == 0) empty = median;
            printf("%-16s %10.2f %+12.2f\n", benches[b].name, median, median - empty);
        }
    }
    CHECK_STATUS(hdl_revoke(registry_handle), HDL_STATUS_OK);
    CHECK(hdl_testing_static_remove(static_handle));
    CHECK_STATUS(hdl_flush(NULL), HDL_STATUS_OK);
    return 0;
}

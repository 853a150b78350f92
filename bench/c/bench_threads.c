/* Cost of C->Rust calls from several C threads at once (pthreads), through the C API and the
 * `testing` hooks of libhdl.a (the multi-threaded sibling of tests/c/bench_calls.c):
 *   empty          hdl_testing_empty(h): an empty extern "C" Rust function (the baseline)
 *   c-call         a plain C function call (noinline, same program)
 *   scoped         hdl_testing_static_get(h): a Rust entry doing a scoped lookup in its own
 *                  static HandleTable<u64> (a Rust library exposing its objects to C)
 *   lookup+release hdl_lookup(h, tag, &p) + hdl_release(h) on the C registry (C code holding
 *                  references)
 * Every thread uses its own handle. For each thread count, each thread makes `calls` calls;
 * the figure is the median of `repeats` runs.
 *
 * Usage: bench_threads [calls-per-thread [repeats [threads,threads,...]]]
 * Prints a table; with HDL_BENCH_TSV=path also writes it as TSV.
 */
#define _POSIX_C_SOURCE 200809L
#include "../../tests/c/common.h"

#include <pthread.h>
#include <time.h>

#define MAX_THREADS 256

static volatile uint64_t sink;

__attribute__((noinline)) static uint64_t plain_c(uint64_t h) {
    __asm__ volatile("" ::: "memory");
    return h;
}

static void loop_c_call(uint64_t h, long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += plain_c(h);
    sink = acc;
}

static void loop_empty(uint64_t h, long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += hdl_testing_empty(h);
    sink = acc;
}

static void loop_scoped(uint64_t h, long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) acc += hdl_testing_static_get(h);
    sink = acc;
}

static void loop_lookup_release(uint64_t h, long n) {
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) {
        void *p;
        acc += (uint64_t)hdl_lookup(h, 1, &p);
        acc += (uint64_t)hdl_release(h);
    }
    sink = acc;
}

struct bench {
    const char *name;
    void (*loop)(uint64_t, long);
    int registry; /* 1: uses a registry handle, 0: a static-table handle */
};

static const struct bench benches[] = {
    {"empty", loop_empty, 0}, /* first: the others are reported against it */
    {"c-call", loop_c_call, 0},
    {"scoped", loop_scoped, 0},
    {"lookup+release", loop_lookup_release, 1},
};
#define NBENCH (sizeof benches / sizeof benches[0])

struct worker {
    pthread_t thread;
    const struct bench *bench;
    uint64_t handle;
    long calls;
    pthread_barrier_t *start;
    double t0, t1; /* this worker's own start and end (ns) */
};

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    w->t0 = now_ns();
    w->bench->loop(w->handle, w->calls);
    w->t1 = now_ns();
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t registry_handles[MAX_THREADS], static_handles[MAX_THREADS];

/* Wall seconds for `threads` threads each making `calls` calls of `b`: from the first worker's
 * start to the last worker's end, as the workers saw it. */
static double run_once(const struct bench *b, int threads, long calls) {
    struct worker w[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
        w[t] = (struct worker){.bench = b,
                               .handle = b->registry ? registry_handles[t] : static_handles[t],
                               .calls = calls,
                               .start = &start};
        CHECK(pthread_create(&w[t].thread, NULL, run_worker, &w[t]) == 0);
    }
    pthread_barrier_wait(&start);
    double first = 0, last = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(w[t].thread, NULL);
        if (t == 0 || w[t].t0 < first) first = w[t].t0;
        if (t == 0 || w[t].t1 > last) last = w[t].t1;
    }
    double wall = (last - first) / 1e9;
    pthread_barrier_destroy(&start);
    return wall;
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 20000000;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    int thread_list[32], nthread_list = 0;
    if (argc > 3) {
        for (char *s = strtok(argv[3], ","); s && nthread_list < 32; s = strtok(NULL, ","))
            thread_list[nthread_list++] = atoi(s);
    } else {
        thread_list[nthread_list++] = 1;
        thread_list[nthread_list++] = 2;
    }
    if (repeats < 1) repeats = 1;
    if (repeats > 64) repeats = 64;

    static int objects[MAX_THREADS];
    for (int t = 0; t < MAX_THREADS; t++) {
        CHECK_STATUS(hdl_insert(&objects[t], 1, NULL, &registry_handles[t]), HDL_STATUS_OK);
        static_handles[t] = hdl_testing_static_insert((uint64_t)t + 1);
    }

    const char *tsv_path = getenv("HDL_BENCH_TSV");
    FILE *tsv = tsv_path ? fopen(tsv_path, "w") : NULL;
    if (tsv) fprintf(tsv, "call\tthreads\tns_per_call_thread\tmcalls_per_s\tns_vs_empty\n");
    printf("%-16s %7s %12s %12s %12s   (median of %d runs, %ld calls per thread)\n", "call",
           "threads", "ns/call/thr", "Mcalls/s", "vs empty", repeats, calls);
    for (int ti = 0; ti < nthread_list; ti++) {
        int threads = thread_list[ti];
        CHECK(threads >= 1 && threads <= MAX_THREADS);
        double empty = 0;
        for (size_t b = 0; b < NBENCH; b++) {
            double t[64];
            run_once(&benches[b], threads, calls / 10); /* warm up */
            for (int r = 0; r < repeats; r++) t[r] = run_once(&benches[b], threads, calls);
            qsort(t, (size_t)repeats, sizeof t[0], cmp_double);
            double wall = t[repeats / 2];
            double ns = wall * 1e9 / (double)calls; /* per call, as one thread sees it */
            double mcalls = (double)calls * threads / wall / 1e6;
            if (strcmp(benches[b].name, "empty") == 0) empty = ns;
            double vs = ns - empty;
            printf("%-16s %7d %12.2f %12.1f %+12.2f\n", benches[b].name, threads, ns, mcalls, vs);
            if (tsv)
                fprintf(tsv, "%s\t%d\t%.3f\t%.2f\t%.3f\n", benches[b].name, threads, ns, mcalls, vs);
        }
    }
    if (tsv) fclose(tsv);

    for (int t = 0; t < MAX_THREADS; t++) {
        CHECK_STATUS(hdl_revoke(registry_handles[t]), HDL_STATUS_OK);
        CHECK(hdl_testing_static_remove(static_handles[t]));
    }
    CHECK_STATUS(hdl_flush(NULL), HDL_STATUS_OK);
    return 0;
}

/* The C driver of the Go version: the same worker loop as ../seed004.c, calling the exported
 * Go callback goGetValue instead of the Rust one. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "_cgo_export.h"

/* Tasks a worker takes from the shared counter at a time, so that the counter's cache line
 * is not what is measured (one atomic add per 64 tasks). */
#define TASK_BATCH 64

struct job {
    uintptr_t handle;
    long tasks;
    atomic_long next;
    atomic_long bad;
    atomic_ulong check;
};

static void *worker(void *arg) {
    struct job *job = arg;
    unsigned long check = 0;
    long bad = 0;
    for (;;) {
        /* Take the next TASK_BATCH tasks from the shared counter. */
        long first = atomic_fetch_add_explicit(&job->next, TASK_BATCH, memory_order_relaxed);
        if (first >= job->tasks) break;
        long end = first + TASK_BATCH < job->tasks ? first + TASK_BATCH : job->tasks;
        for (long task = first; task < end; task++) {
            uint8_t value[32];
            if (!goGetValue(job->handle, value)) {
                bad++;
                continue;
            }
            check += value[task & 31];
        }
    }
    atomic_fetch_add(&job->check, check);
    atomic_fetch_add(&job->bad, bad);
    return NULL;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs the workload; returns the number of failed callbacks (or -1). */
int run_workers(int workers, long tasks, uintptr_t handle, double *took_ms, unsigned long *check) {
    struct job job = {.handle = handle, .tasks = tasks};
    pthread_t *threads = calloc((size_t)workers, sizeof *threads);
    if (!threads) return -1;
    double start = now_ms();
    for (int i = 0; i < workers; i++)
        if (pthread_create(&threads[i], NULL, worker, &job) != 0) return -1;
    for (int i = 0; i < workers; i++) pthread_join(threads[i], NULL);
    *took_ms = now_ms() - start;
    *check = atomic_load(&job.check);
    free(threads);
    return (int)atomic_load(&job.bad);
}

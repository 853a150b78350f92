/* The seed-004 workload with handles: N C worker threads share 10,000,000 tasks; each task is
 * one C->Rust callback through a handle, and the callback copies the 32-byte value behind the
 * handle into the caller's buffer.
 *
 * The Rust side is an ordinary Rust library (bench/src/seed004.rs, linked as libbench.a): a
 * static handles::HandleTable<[u8; 32]> and three extern "C" functions. C only ever holds the
 * 64-bit handle; a stale or forged handle makes the callback return 0, never crash.
 * go/ holds the same program with the callback written in Go (cgo.Handle), for comparison.
 *
 * Build:  cargo build --release -p bench
 *         cc -O2 -pthread seed004.c ../../target/release/libbench.a -ldl -lm -o seed004
 * Usage:  seed004 [workers [tasks]]      (default: one worker per CPU, 10,000,000 tasks)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The Rust library's C API (bench/src/seed004.rs). */
uint64_t seed004_insert(const uint8_t *value32);        /* returns the handle, 0 on failure */
int seed004_get_value(uint64_t handle, uint8_t *out32); /* 1: copied, 0: bad handle */
int seed004_remove(uint64_t handle);                    /* 1: was live */

/* Tasks a worker takes from the shared counter at a time, so that the counter's cache line
 * is not what is measured (one atomic add per 64 tasks). */
#define TASK_BATCH 64

struct job {
    uint64_t handle;   /* the one Rust value every task reads */
    long tasks;        /* total tasks, shared by all workers */
    atomic_long next;  /* next task to take */
    atomic_long bad;   /* callbacks that failed (must stay 0) */
    atomic_ulong check; /* sum of bytes seen, so the copies cannot be optimised away */
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
            if (!seed004_get_value(job->handle, value)) {
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

int main(int argc, char **argv) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = argc > 1 ? atoi(argv[1]) : (int)(cpus > 0 ? cpus : 1);
    long tasks = argc > 2 ? atol(argv[2]) : 10000000;
    if (workers < 1 || tasks < 1) {
        fprintf(stderr, "usage: %s [workers [tasks]]\n", argv[0]);
        return 2;
    }

    uint8_t value[32];
    for (int i = 0; i < 32; i++) value[i] = (uint8_t)(i + 1);
    struct job job = {.handle = seed004_insert(value), .tasks = tasks};
    if (job.handle == 0) {
        fprintf(stderr, "seed004_insert failed\n");
        return 1;
    }

    pthread_t *threads = calloc((size_t)workers, sizeof *threads);
    if (!threads) return 1;
    double start = now_ms();
    for (int i = 0; i < workers; i++)
        if (pthread_create(&threads[i], NULL, worker, &job) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    for (int i = 0; i < workers; i++) pthread_join(threads[i], NULL);
    double took = now_ms() - start;
    free(threads);

    /* Every task read bytes 1..32 (value[task % 32]): the expected checksum is exact. */
    unsigned long expect = 0;
    for (long t = 0; t < tasks; t++) expect += (unsigned long)(t % 32) + 1;
    int ok = atomic_load(&job.bad) == 0 && atomic_load(&job.check) == expect;
    seed004_remove(job.handle);

    printf("workers = %d\ntasks = %ld\ntook %.1f ms (%.1f ns/task, %.2f Mtasks/s)%s\n", workers,
           tasks, took, took * 1e6 / (double)tasks, (double)tasks / took / 1e3,
           ok ? "" : "  CHECKSUM MISMATCH");
    return ok ? 0 : 1;
}

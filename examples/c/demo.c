/* demo.c: the C side of the handles demo (`cargo run --release -p demo`).
 *
 * A C program that holds handles to Rust objects in its own arrays, calls Rust through them
 * from several threads, runs Rust callbacks from a C thread pool with the callback's handle as
 * user_data, and shows that misuse (stale, double-freed, forged, wrong-type handles; a callback
 * after its destroy-notify) is a clean error. It times the same work done through raw pointers
 * and through the classic "big old map" for comparison. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, clock_gettime under -std=c11 */

#include "demo.h"
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OBJECTS 1024 /* handles each thread cycles through (read-uniform over 1k) */

static int failures;

#define EXPECT(cond, what)                                                        \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "demo.c:%d: FAILED: %s (%s)\n", __LINE__, what, #cond); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- 1. Timed reads from several threads ------------------------------------------------ */

enum design { HANDLES, RAW, MAP, DESIGNS };
static const char *const design_names[DESIGNS] = {
    "handles: scoped lookup by handle",
    "raw pointer (Arc::into_raw, unchecked)",
    "big old map (64 x RwLock<HashMap>)",
};

static uint64_t sensors[OBJECTS];     /* handles to Rust objects, kept by C */
static const void *raw_sensors[OBJECTS];
static uint64_t map_ids[OBJECTS];

struct reader {
    pthread_t thread;
    enum design design;
    long calls;
    int offset;
    pthread_barrier_t *start;
    uint64_t checksum;
    long errors;
};

static void *read_loop(void *arg) {
    struct reader *r = arg;
    uint8_t buf[DEMO_READING_SIZE];
    uint64_t sum = 0;
    long errors = 0;
    int i = r->offset;
    pthread_barrier_wait(r->start);
    for (long n = 0; n < r->calls; n++) {
        switch (r->design) {
        case HANDLES:
            errors += sensor_read(sensors[i], buf) != HDL_STATUS_OK;
            break;
        case RAW:
            sensor_raw_read(raw_sensors[i], buf);
            break;
        case MAP:
            errors += sensor_map_read(map_ids[i], buf) != HDL_STATUS_OK;
            break;
        default:
            break;
        }
        sum += buf[0] + buf[DEMO_READING_SIZE - 1];
        i = (i + 1) & (OBJECTS - 1);
    }
    r->checksum = sum;
    r->errors = errors;
    return NULL;
}

/* Runs `calls` reads split over `threads` threads; returns calls per second. */
static double timed_reads(enum design d, int threads, long calls, uint64_t *checksum) {
    struct reader *readers = calloc((size_t)threads, sizeof *readers);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
        readers[t] = (struct reader){.design = d, .calls = calls / threads,
                                     .offset = (t * 97) & (OBJECTS - 1), .start = &start};
        pthread_create(&readers[t].thread, NULL, read_loop, &readers[t]);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    uint64_t sum = 0;
    long errors = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(readers[t].thread, NULL);
        sum += readers[t].checksum;
        errors += readers[t].errors;
    }
    double elapsed = now_s() - t0;
    pthread_barrier_destroy(&start);
    free(readers);
    EXPECT(errors == 0, "every read of a live object succeeds");
    *checksum = sum;
    return (double)(calls / threads * threads) / elapsed;
}

/* ---- 2. Rust callbacks run by a C thread pool -------------------------------------------- */

struct task {
    const struct demo_config *config;
    uint64_t sensor;
    uint32_t expected_id;
    atomic_long *ok;
};

static void run_task(void *arg) {
    struct task *t = arg;
    int32_t id = t->config->on_reading(t->config->on_reading_data, t->sensor);
    if (id == (int32_t)t->expected_id) atomic_fetch_add(t->ok, 1);
}

/* ---- 3. A C object of our own in the registry, for the misuse checks -------------------- */

#define CONFIG_TAG 0x434f4e46u /* "CONF" */
static atomic_int config_destroyed;
struct c_config {
    int verbosity;
};
static void destroy_config(void *p) {
    atomic_fetch_add(&config_destroyed, 1);
    free(p);
}

int demo_main(const struct demo_config *cfg) {
    int threads = cfg->threads;
    printf("handles demo: a C program (examples/c/demo.c) holding handles to Rust objects\n"
           "(demo/src/main.rs) and calling into Rust from %d C threads; libhdl %s.\n\n",
           threads, hdl_version_string());

    for (uint32_t i = 0; i < OBJECTS; i++) {
        sensors[i] = sensor_new(i);
        raw_sensors[i] = sensor_raw_new(i);
        map_ids[i] = sensor_map_new(i);
        EXPECT(sensors[i] != 0 && raw_sensors[i] != NULL && map_ids[i] != 0, "objects created");
    }

    /* 1. The same read (look the object up, copy its 32-byte reading) three ways. */
    printf("1. Reads of %d Rust objects: %ld calls per design from %d threads, each a C->Rust\n"
           "   call that looks the object up and copies 32 bytes (measured now, side by side).\n",
           OBJECTS, cfg->calls, threads);
    printf("   %-40s %10s %16s %12s\n", "design", "Mcalls/s", "ns/call/thread", "vs handles");
    double rate[DESIGNS];
    uint64_t checksum[DESIGNS];
    for (int d = 0; d < DESIGNS; d++) {
        timed_reads((enum design)d, threads, cfg->calls / 10, &checksum[d]); /* warm up */
        rate[d] = timed_reads((enum design)d, threads, cfg->calls, &checksum[d]);
    }
    for (int d = 0; d < DESIGNS; d++) {
        printf("   %-40s %10.1f %16.2f %11.2fx\n", design_names[d], rate[d] / 1e6,
               1e9 * threads / rate[d], rate[d] / rate[HANDLES]);
    }
    EXPECT(checksum[HANDLES] == checksum[RAW] && checksum[RAW] == checksum[MAP],
           "all three designs read the same bytes");

    /* 2. A C thread pool calls a Rust closure with its handle as user_data. */
    long tasks = cfg->calls / 20 < 1000000 ? cfg->calls / 20 : 1000000;
    pool *p = pool_new(threads);
    EXPECT(p != NULL, "pool_new");
    struct task *jobs = calloc((size_t)tasks, sizeof *jobs);
    atomic_long ok = 0;
    double t0 = now_s();
    for (long i = 0; i < tasks; i++) {
        int k = (int)(i & (OBJECTS - 1));
        jobs[i] = (struct task){cfg, sensors[k], (uint32_t)k, &ok};
        EXPECT(pool_submit(p, run_task, &jobs[i]) == 0, "pool_submit");
    }
    pool_wait(p);
    double elapsed = now_s() - t0;
    printf("\n2. A C thread pool (%d workers) ran %ld tasks; each called a Rust closure through\n"
           "   its handle (void *user_data), which looked a sensor up by handle: %ld correct,\n"
           "   %.2f M tasks/s including the pool's own queueing.\n",
           threads, tasks, (long)atomic_load(&ok), (double)tasks / elapsed / 1e6);
    EXPECT(atomic_load(&ok) == tasks, "every callback returned its sensor's id");

    /* 3. Misuse is a clean error, never a crash. */
    printf("\n3. Misuse gets a clean error:\n");
    uint8_t buf[DEMO_READING_SIZE];
    uint64_t victim = sensors[7];
    hdl_status s = sensor_free(victim);
    EXPECT(s == HDL_STATUS_OK, "free");
    s = sensor_read(victim, buf);
    printf("   read after free (stale handle)         -> %s\n", hdl_status_name((int)s));
    EXPECT(s == HDL_STATUS_STALE, "stale read rejected");
    s = sensor_free(victim);
    printf("   double free                            -> %s\n", hdl_status_name((int)s));
    EXPECT(s == HDL_STATUS_STALE, "double free rejected");
    s = sensor_read(victim ^ (1ull << 50), buf);
    printf("   forged handle (one bit flipped)        -> %s\n", hdl_status_name((int)s));
    EXPECT(s != HDL_STATUS_OK, "forged handle rejected");
    s = sensor_read(0, buf);
    printf("   handle 0                               -> %s\n", hdl_status_name((int)s));
    EXPECT(s == HDL_STATUS_NULL_HANDLE, "0 rejected");
    s = sensor_read(sensors[0], NULL);
    printf("   NULL output buffer                     -> %s\n", hdl_status_name((int)s));
    EXPECT(s == HDL_STATUS_NULL_POINTER, "NULL output rejected");

    struct c_config *conf = malloc(sizeof *conf);
    conf->verbosity = 2;
    uint64_t conf_h = 0;
    EXPECT(hdl_insert(conf, CONFIG_TAG, destroy_config, &conf_h) == HDL_STATUS_OK, "hdl_insert");
    s = sensor_read(conf_h, buf);
    printf("   C object's handle passed as a sensor   -> %s\n", hdl_status_name((int)s));
    EXPECT(s == HDL_STATUS_WRONG_TABLE, "other table's handle rejected");
    void *out = NULL;
    s = hdl_lookup(conf_h, CONFIG_TAG + 1, &out);
    printf("   hdl_lookup with the wrong type tag     -> %s\n", hdl_status_name((int)s));
    EXPECT(s == HDL_STATUS_WRONG_TYPE && out == NULL, "wrong tag rejected");
    EXPECT(hdl_lookup(conf_h, CONFIG_TAG, &out) == HDL_STATUS_OK && out == conf, "lookup");
    EXPECT(hdl_revoke(conf_h) == HDL_STATUS_OK, "revoke with a reference outstanding");
    s = hdl_lookup(conf_h, CONFIG_TAG, &out);
    printf("   hdl_lookup after hdl_revoke            -> %s (the earlier reference is still valid:\n"
           "                                             verbosity %d)\n",
           hdl_status_name((int)s), ((struct c_config *)conf)->verbosity);
    EXPECT(s == HDL_STATUS_STALE, "revoked handle rejected");
    EXPECT(hdl_release(conf_h) == HDL_STATUS_OK, "last reference released");
    EXPECT(hdl_flush(NULL) == HDL_STATUS_OK, "flush");
    printf("   C destructor after the last release    -> ran %d time(s)\n",
           atomic_load(&config_destroyed));
    EXPECT(atomic_load(&config_destroyed) == 1, "destructor ran exactly once");

    /* The pool is done with the callback: its destroy-notify lets go of the registration,
     * and a late call is rejected instead of touching freed memory. */
    pool_free(p);
    free(jobs);
    cfg->on_reading_destroy(cfg->on_reading_data);
    int32_t late = cfg->on_reading(cfg->on_reading_data, sensors[0]);
    printf("   Rust callback called after its destroy -> %d (closure not run)\n", late);
    EXPECT(late == -1, "late callback rejected");

    for (int i = 0; i < OBJECTS; i++) {
        if (i != 7) EXPECT(sensor_free(sensors[i]) == HDL_STATUS_OK, "free");
        sensor_raw_free(raw_sensors[i]);
        sensor_map_free(map_ids[i]);
    }
    printf("\n%s\n", failures == 0 ? "demo: every check passed" : "demo: CHECKS FAILED");
    fflush(stdout); /* before the Rust side prints */
    return failures == 0 ? 0 : 1;
}

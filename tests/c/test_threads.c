/* pthread storms of lookup/retain/release/revoke/take on shared handles, destructors exactly
 * once, and calls from C threads after many other threads have exited. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define MAGIC 0x5eed5eedULL
#define TAG 7u
#define WRONG_TAG 8u
#define SLOTS 16
#define MAX_OBJS (1 << 20)

struct obj {
    _Atomic uint64_t magic;
    int id;
};

static atomic_int created;
static atomic_int destroyed[MAX_OBJS];
static _Atomic uint64_t slots[SLOTS];
static int iterations = 20000;

static void destroy(void *p) {
    struct obj *o = p;
    CHECK(atomic_load(&o->magic) == MAGIC);
    CHECK(atomic_fetch_add(&destroyed[o->id], 1) == 0);
    atomic_store(&o->magic, 0);
    free(o);
}

static uint64_t insert_new(void) {
    struct obj *o = malloc(sizeof *o);
    CHECK(o != NULL);
    o->id = atomic_fetch_add(&created, 1);
    CHECK(o->id < MAX_OBJS);
    atomic_init(&o->magic, MAGIC);
    uint64_t h = 0;
    CHECK_STATUS(hdl_insert(o, TAG, destroy, &h), HDL_STATUS_OK);
    return h;
}

static void use_object(void *p) {
    struct obj *o = p;
    CHECK(atomic_load(&o->magic) == MAGIC);
}

/* Replaces the slot's entry; the winner of the CAS owns the old owner reference and ends it by
 * take (if nobody else holds it) or revoke. */
static void replace(int slot, uint64_t h, int by_take) {
    uint64_t fresh = insert_new();
    if (!atomic_compare_exchange_strong(&slots[slot], &h, fresh)) {
        CHECK_STATUS(hdl_revoke(fresh), HDL_STATUS_OK); /* lost the race: drop ours */
        return;
    }
    if (by_take) {
        void *out = NULL;
        hdl_status s = hdl_take(h, TAG, &out);
        if (s == HDL_STATUS_OK) {
            destroy(out); /* ownership came back to us */
            return;
        }
        CHECK(s == HDL_STATUS_BUSY);
    }
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
}

static void *storm(void *arg) {
    uint64_t seed = 0x1234567ULL * (uint64_t)(uintptr_t)arg + 99;
    for (int i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&seed);
        int slot = (int)(r % SLOTS);
        int op = (int)((r >> 8) % 100);
        uint64_t h = atomic_load(&slots[slot]);
        void *out = NULL;
        uint32_t tag = 0;
        hdl_status s;
        if (op < 45) {
            s = hdl_lookup(h, TAG, &out);
            if (s == HDL_STATUS_OK) {
                use_object(out);
                CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
            } else {
                CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY);
            }
        } else if (op < 65) {
            s = hdl_retain(h);
            if (s == HDL_STATUS_OK) {
                CHECK_STATUS(hdl_lookup(h, 0, &out) == HDL_STATUS_OK
                                 ? hdl_release(h) : HDL_STATUS_OK, HDL_STATUS_OK);
                CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
            } else {
                CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY);
            }
        } else if (op < 72) {
            s = hdl_lookup(h, WRONG_TAG, &out);
            CHECK(s == HDL_STATUS_WRONG_TYPE || s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY);
            CHECK(out == NULL);
        } else if (op < 80) {
            replace(slot, h, 0);
        } else if (op < 84) {
            replace(slot, h, 1);
        } else if (op < 86) {
            CHECK_STATUS(hdl_flush(NULL), HDL_STATUS_OK);
        } else if (op < 92) {
            (void)hdl_is_live(h);
            s = hdl_type_tag(h, &tag);
            CHECK(s == HDL_STATUS_OK ? tag == TAG : (s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY));
        } else {
            /* Hold a reference across a yield while others revoke and flush. */
            s = hdl_lookup(h, TAG, &out);
            if (s == HDL_STATUS_OK) {
                sched_yield();
                use_object(out);
                CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
            }
        }
    }
    return NULL;
}

static void run_threads(int n, void *(*fn)(void *)) {
    pthread_t t[64];
    CHECK(n <= 64);
    for (int i = 0; i < n; i++) CHECK(pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < n; i++) CHECK(pthread_join(t[i], NULL) == 0);
}

static uint64_t shared_handle;

/* A short-lived thread: a few calls, then it exits (its per-thread state is recycled). */
static void *short_lived(void *arg) {
    (void)arg;
    void *out = NULL;
    uint64_t h = insert_new();
    CHECK_STATUS(hdl_lookup(h, TAG, &out), HDL_STATUS_OK);
    use_object(out);
    CHECK_STATUS(hdl_lookup(shared_handle, TAG, &out), HDL_STATUS_OK);
    use_object(out);
    CHECK_STATUS(hdl_release(shared_handle), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    return NULL;
}

static void check_all_destroyed_once(int except) {
    CHECK_STATUS(hdl_flush(NULL), HDL_STATUS_OK);
    int n = atomic_load(&created);
    for (int i = 0; i < n; i++) {
        if (i != except && atomic_load(&destroyed[i]) != 1) {
            size_t pending = 0;
            hdl_status st = hdl_flush(&pending);
            fprintf(stderr, "object %d of %d destroyed %d times (flush: %s, pending %zu, live %zu)\n", i, n,
                    atomic_load(&destroyed[i]), hdl_status_name((int)st), pending, hdl_live_count());
            exit(1);
        }
    }
}

/* The background policy (the default): a caller may hold its own mutex across hdl_release
 * even though the destructors of *other* entries take that mutex; under the caller policy a
 * reclamation pass inside one of these releases would deadlock. A second thread is registered,
 * so destructors cannot run inside the ending call, and none runs on the releasing thread. */
static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int locked_destroyed;
static pthread_t releaser;
static atomic_int on_releaser;

static void destroy_taking_the_lock(void *p) {
    CHECK(pthread_mutex_lock(&app_lock) == 0);
    if (pthread_equal(pthread_self(), releaser)) atomic_fetch_add(&on_releaser, 1);
    atomic_fetch_add(&locked_destroyed, 1);
    CHECK(pthread_mutex_unlock(&app_lock) == 0);
    free(p);
}

static atomic_int bystander_stop;

static void *bystander(void *arg) {
    (void)arg;
    uint64_t h = insert_new(); /* registers this thread */
    while (!atomic_load(&bystander_stop)) sched_yield();
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    return NULL;
}

static void test_no_foreign_destructor_inside_a_callers_call(void) {
    CHECK(hdl_reclaim_policy() == HDL_RECLAIM_BACKGROUND);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, bystander, NULL) == 0);
    while (hdl_live_count() == 0) sched_yield(); /* the bystander is registered */
    releaser = pthread_self();
    enum { N = 3000 };
    CHECK(pthread_mutex_lock(&app_lock) == 0);
    for (int i = 0; i < N; i++) {
        uint64_t h = 0;
        CHECK_STATUS(hdl_insert(malloc(16), TAG, destroy_taking_the_lock, &h), HDL_STATUS_OK);
        CHECK_STATUS(hdl_release(h), HDL_STATUS_OK); /* holding app_lock */
    }
    CHECK(pthread_mutex_unlock(&app_lock) == 0);
    /* No further call: the background reclaimer runs every destructor by itself. */
    const struct timespec ms = {0, 1000000};
    for (int i = 0; i < 10000 && atomic_load(&locked_destroyed) < N; i++) nanosleep(&ms, NULL);
    CHECK(atomic_load(&locked_destroyed) == N);
    CHECK(atomic_load(&on_releaser) == 0);
    atomic_store(&bystander_stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
}

int main(int argc, char **argv) {
    int threads = 8, waves = 60;
    if (argc > 1) iterations = atoi(argv[1]);
    if (argc > 2) waves = atoi(argv[2]);
    test_no_foreign_destructor_inside_a_callers_call();
    size_t live0 = hdl_live_count();

    /* 1. Storm on shared handles. */
    for (int i = 0; i < SLOTS; i++) atomic_store(&slots[i], insert_new());
    run_threads(threads, storm);
    CHECK(hdl_live_count() == live0 + SLOTS);
    for (int i = 0; i < SLOTS; i++) CHECK_STATUS(hdl_revoke(atomic_load(&slots[i])), HDL_STATUS_OK);
    check_all_destroyed_once(-1);
    CHECK(hdl_live_count() == live0);
    int after_storm = atomic_load(&created);

    /* 2. Many threads come and go... */
    shared_handle = insert_new();
    for (int w = 0; w < waves; w++) run_threads(16, short_lived);
    check_all_destroyed_once(after_storm);
    CHECK(atomic_load(&destroyed[after_storm]) == 0);
    CHECK(hdl_live_count() == live0 + 1);

    /* 3. ...and new C threads still work, storms included. */
    for (int i = 0; i < SLOTS; i++) atomic_store(&slots[i], insert_new());
    run_threads(threads, storm);
    for (int i = 0; i < SLOTS; i++) CHECK_STATUS(hdl_revoke(atomic_load(&slots[i])), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(shared_handle), HDL_STATUS_OK);
    check_all_destroyed_once(-1);
    CHECK(hdl_live_count() == live0);
    printf("test_threads: ok (%d threads x %d ops twice, %d short-lived threads, %d objects "
           "(%d in the first storm), each destroyed exactly once)\n",
           threads, iterations, waves * 16, atomic_load(&created), after_storm);
    return 0;
}

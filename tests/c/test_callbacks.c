/* C callbacks registered with hdl_callback_new, invoked by handle from many C threads;
 * some unregister themselves from inside the call; every destroy runs exactly once, after the
 * last invocation. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define CALLBACKS 64
#define THREADS 4
#define MAGIC 0xca11bac4u

struct counter {
    _Atomic unsigned magic;
    _Atomic uint64_t self; /* the callback's own handle, for self-revocation */
    atomic_long calls;
    atomic_int in_flight;
    atomic_int destroyed;
    long revoke_after; /* > 0: revoke its own handle on that call */
    atomic_long calls_at_revoke; /* the call count when that revoke had returned */
};

static struct counter counters[CALLBACKS];
static _Atomic uint64_t handles[CALLBACKS];
static int iterations = 20000;

static int32_t count_call(void *user_data, void *arg) {
    struct counter *c = user_data;
    CHECK(atomic_load(&c->magic) == MAGIC);
    CHECK(atomic_load(&c->destroyed) == 0);
    atomic_fetch_add(&c->in_flight, 1);
    long n = atomic_fetch_add(&c->calls, 1) + 1;
    if (c->revoke_after > 0 && n == c->revoke_after) {
        /* Re-entrancy: unregister ourselves from inside the callback. */
        CHECK_STATUS(hdl_revoke(atomic_load(&c->self)), HDL_STATUS_OK);
        atomic_store(&c->calls_at_revoke, atomic_load(&c->calls));
    }
    atomic_fetch_sub(&c->in_flight, 1);
    return (int32_t)(intptr_t)arg + 1;
}

static void destroy_counter(void *user_data) {
    struct counter *c = user_data;
    CHECK(atomic_load(&c->magic) == MAGIC);
    CHECK(atomic_load(&c->in_flight) == 0); /* destroy waits for every call in progress */
    CHECK(atomic_fetch_add(&c->destroyed, 1) == 0);
}

static void *worker(void *arg) {
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)((intptr_t)arg + 1);
    long ok = 0;
    for (int i = 0; i < iterations; i++) {
        int k = (int)(rng_next(&rng) % CALLBACKS);
        uint64_t h = atomic_load(&handles[k]);
        int32_t result = -1;
        hdl_status s = hdl_callback_invoke(h, (void *)(intptr_t)i, &result);
        if (s == HDL_STATUS_OK) {
            CHECK(result == i + 1);
            ok++;
        } else {
            CHECK(s == HDL_STATUS_STALE);
            CHECK(result == -1); /* outputs are written only on success */
        }
    }
    return (void *)(intptr_t)ok;
}

static void test_basics(void) {
    static struct counter c = {.magic = MAGIC};
    uint64_t h = 0;
    CHECK_STATUS(hdl_callback_new(NULL, &c, destroy_counter, &h), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(hdl_callback_new(count_call, &c, destroy_counter, NULL), HDL_STATUS_NULL_POINTER);
    flush_all();
    CHECK(atomic_load(&c.destroyed) == 0); /* failed registrations never destroy */

    CHECK_STATUS(hdl_callback_new(count_call, &c, destroy_counter, &h), HDL_STATUS_OK);
    CHECK(h != 0);
    uint32_t tag = 0;
    CHECK_STATUS(hdl_type_tag(h, &tag), HDL_STATUS_OK);
    CHECK(tag == HDL_CALLBACK_TAG);
    int32_t r = 0;
    CHECK_STATUS(hdl_callback_invoke(h, (void *)41, &r), HDL_STATUS_OK);
    CHECK(r == 42);
    CHECK_STATUS(hdl_callback_invoke(h, (void *)1, NULL), HDL_STATUS_OK); /* result optional */
    CHECK_STATUS(hdl_callback_invoke(0, NULL, &r), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(hdl_callback_invoke(h ^ 1, NULL, &r), HDL_STATUS_INVALID);

    /* A plain object is not a callback. */
    static int object;
    uint64_t not_cb = 0;
    CHECK_STATUS(hdl_insert(&object, 5, NULL, &not_cb), HDL_STATUS_OK);
    CHECK_STATUS(hdl_callback_invoke(not_cb, NULL, &r), HDL_STATUS_WRONG_TYPE);
    CHECK_STATUS(hdl_revoke(not_cb), HDL_STATUS_OK);

    /* A retained reference keeps it alive after the revoke, but not callable. */
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_callback_invoke(h, NULL, &r), HDL_STATUS_STALE);
    flush_all();
    CHECK(atomic_load(&c.destroyed) == 0);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    flush_all();
    CHECK(atomic_load(&c.destroyed) == 1);
    CHECK(atomic_load(&c.calls) == 2);
}

static void test_threads(void) {
    for (int k = 0; k < CALLBACKS; k++) {
        struct counter *c = &counters[k];
        atomic_init(&c->magic, MAGIC);
        /* A quarter unregister themselves mid-run. */
        c->revoke_after = k % 4 == 0 ? 1 + k * 3 : 0;
        uint64_t h = 0;
        CHECK_STATUS(hdl_callback_new(count_call, c, destroy_counter, &h), HDL_STATUS_OK);
        atomic_store(&c->self, h);
        atomic_store(&handles[k], h);
    }
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    long ok = 0;
    for (int i = 0; i < THREADS; i++) {
        void *n = NULL;
        CHECK(pthread_join(t[i], &n) == 0);
        ok += (long)(intptr_t)n;
    }
    long calls = 0;
    for (int k = 0; k < CALLBACKS; k++) {
        struct counter *c = &counters[k];
        calls += atomic_load(&c->calls);
        if (c->revoke_after > 0) {
            /* Once the self-revoke has returned, only calls whose lookup came before it (one
             * per other thread) can still run. Counted from when the revoke returned, not from
             * the call that revokes: other threads keep calling while that thread is between
             * its count and its revoke (preempted, or under qemu, for many calls). */
            long n = atomic_load(&c->calls);
            if (n >= c->revoke_after) {
                long at_revoke = atomic_load(&c->calls_at_revoke);
                CHECK(at_revoke >= c->revoke_after);
                CHECK(n <= at_revoke + THREADS - 1);
                CHECK(!hdl_is_live(atomic_load(&c->self)));
            }
        }
    }
    CHECK(calls == ok);
    for (int k = 0; k < CALLBACKS; k++) {
        struct counter *c = &counters[k];
        hdl_status s = hdl_revoke(atomic_load(&c->self));
        if (c->revoke_after > 0 && atomic_load(&c->calls) >= c->revoke_after)
            CHECK(s == HDL_STATUS_STALE);
        else
            CHECK(s == HDL_STATUS_OK);
    }
    flush_all();
    for (int k = 0; k < CALLBACKS; k++) CHECK(atomic_load(&counters[k].destroyed) == 1);
    printf("test_callbacks: %d threads, %ld callback invocations\n", THREADS, ok);
}

int main(int argc, char **argv) {
    if (argc > 1) iterations = atoi(argv[1]);
    test_basics();
    test_threads();
    CHECK(hdl_live_count() == 0);
    puts("test_callbacks: ok");
    return 0;
}

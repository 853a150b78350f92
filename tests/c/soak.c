/* The C half of the soak test (tests/tests/soak.rs): a supervisor pthread that keeps creating
 * short-lived worker pthreads until told to stop. Each worker runs a random mix of every hdl_*
 * function on a slot array shared with the Rust threads of the test, then exits (with any
 * references it held released). Built by tests/build.rs with the `cc` crate.
 *
 * Ownership protocol of the shared slots (as in test_threads.c): a slot holds an entry's owner
 * reference. Whoever swaps a handle out of a slot owns that reference and ends the entry, by
 * hdl_take (C objects: the object comes back and is ended here, without its destructor) or
 * hdl_revoke. Lookups, retains and releases on slot handles may meet ended entries (STALE),
 * entries being taken (BUSY), or a Rust object where a C one was expected (WRONG_TYPE).
 *
 * Every C object has an id; "ended" (destructor call, or take) is counted per id, and
 * soak_c_check_ends verifies at the end that every object ended exactly once. Any broken
 * expectation prints its location and aborts the process. */
#include "hdl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define SOAK_SLOTS 64
#define TAG_C 0xC0u
#define TAG_RUST 0x5Au
#define MAGIC 0x0b1ec7ed0b1ec7edULL
#define MAX_IDS (1u << 28)
#define WORKERS 2
#define OPS_PER_WORKER 3000
#define HELD 4

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "soak.c:%d: check failed: %s\n", __LINE__, #cond);              \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* The same layout as the Rust objects of the test (`#[repr(C)] struct Obj`). */
struct obj {
    _Atomic uint64_t magic;
    uint64_t id;
    _Atomic uint64_t handle;
};

/* The shared slots: handles (0 = empty) whose owner reference belongs to the slot. */
static _Atomic uint64_t soak_slots[SOAK_SLOTS];

static _Atomic unsigned char ends[MAX_IDS];
static _Atomic uint64_t next_id;
static _Atomic uint64_t ops_done;
static _Atomic uint64_t threads_done;
static _Atomic uint64_t objects_made;
static _Atomic int stop;
static pthread_t supervisor;

static void end_object(struct obj *o) {
    CHECK(atomic_exchange(&o->magic, 0) == MAGIC);
    CHECK(o->id < MAX_IDS);
    CHECK(atomic_fetch_add(&ends[o->id], 1) == 0);
    free(o);
}

static void destroy(void *p) { end_object(p); }

/* Checks an object reached through `h`: alive, and `h`'s own (or too new to know its handle). */
static void check_obj(const void *p, uint64_t h) {
    const struct obj *o = p;
    CHECK(atomic_load(&o->magic) == MAGIC);
    uint64_t own = atomic_load(&o->handle);
    CHECK(own == 0 || own == h);
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Ends an owner reference taken out of a slot. Exported: the Rust threads use it too. */
void soak_c_end_owned(uint64_t h, int prefer_take) {
    if (h == 0) return;
    if (prefer_take) {
        void *p = NULL;
        hdl_status s = hdl_take(h, TAG_C, &p);
        if (s == HDL_STATUS_OK) {
            check_obj(p, h);
            end_object(p);
            return;
        }
        /* Someone holds a reference or borrows it, or it is a Rust object. */
        CHECK(s == HDL_STATUS_BUSY || s == HDL_STATUS_WRONG_TYPE);
    }
    hdl_status s;
    /* A racing lookup may hold the entry in a transient state for take; retry then. */
    while ((s = hdl_revoke(h)) == HDL_STATUS_BUSY) {
    }
    CHECK(s == HDL_STATUS_OK);
}

static uint64_t insert_c(void) {
    uint64_t id = atomic_fetch_add(&next_id, 1);
    if (id >= MAX_IDS) return 0;
    struct obj *o = malloc(sizeof *o);
    CHECK(o != NULL);
    atomic_init(&o->magic, MAGIC);
    o->id = id;
    atomic_init(&o->handle, 0);
    uint64_t h = 0;
    CHECK(hdl_insert(o, TAG_C, destroy, &h) == HDL_STATUS_OK);
    CHECK(h != 0);
    atomic_store(&o->handle, h);
    atomic_fetch_add(&objects_made, 1);
    return h;
}

static void *worker(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
    uint64_t held[HELD] = {0};
    uint64_t ops = 0;
    for (int i = 0; i < OPS_PER_WORKER; i++, ops++) {
        uint64_t r = rng_next(&rng);
        int slot = (int)(r % SOAK_SLOTS);
        uint64_t h = atomic_load(&soak_slots[slot]);
        void *p = NULL;
        uint32_t tag = 0;
        hdl_status s;
        switch ((r >> 8) % 16) {
        case 0:
        case 1: { /* replace the slot's entry with a new C object, end the old one */
            uint64_t fresh = insert_c();
            if (fresh == 0) break;
            soak_c_end_owned(atomic_exchange(&soak_slots[slot], fresh), (r >> 16) & 1);
            break;
        }
        case 2:
        case 3:
        case 4: /* lookup with tag 0: a reference that keeps the object valid */
            s = hdl_lookup(h, 0, &p);
            if (s == HDL_STATUS_OK) {
                check_obj(p, h);
                int k = (int)((r >> 20) % HELD);
                if (held[k] != 0) CHECK(hdl_release(held[k]) == HDL_STATUS_OK);
                held[k] = h;
            } else {
                CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY || s == HDL_STATUS_NULL_HANDLE);
            }
            break;
        case 5: /* lookup expecting a C object */
            s = hdl_lookup(h, TAG_C, &p);
            if (s == HDL_STATUS_OK) {
                check_obj(p, h);
                CHECK(hdl_release(h) == HDL_STATUS_OK);
            } else {
                CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY || s == HDL_STATUS_WRONG_TYPE ||
                      s == HDL_STATUS_NULL_HANDLE);
            }
            break;
        case 6: /* retain, then release */
            s = hdl_retain(h);
            if (s == HDL_STATUS_OK)
                CHECK(hdl_release(h) == HDL_STATUS_OK);
            else
                CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY || s == HDL_STATUS_NULL_HANDLE);
            break;
        case 7: /* release one held reference */
            if (held[slot % HELD] != 0) {
                CHECK(hdl_release(held[slot % HELD]) == HDL_STATUS_OK);
                held[slot % HELD] = 0;
            }
            break;
        case 8:
            s = hdl_type_tag(h, &tag);
            if (s == HDL_STATUS_OK)
                CHECK(tag == TAG_C || tag == TAG_RUST);
            else
                CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY || s == HDL_STATUS_NULL_HANDLE);
            (void)hdl_is_live(h);
            break;
        case 9: { /* a forged value: a slot handle with one bit flipped */
            uint64_t forged = h ^ (1ULL << ((r >> 24) % 64));
            s = hdl_lookup(forged, 0, &p);
            if (s == HDL_STATUS_OK) { /* it named another live entry: must be that one's */
                check_obj(p, forged);
                CHECK(hdl_release(forged) == HDL_STATUS_OK);
            } else {
                CHECK(s != HDL_STATUS_PANIC && s != HDL_STATUS_NULL_POINTER);
            }
            break;
        }
        case 10: /* take out of the slot by take or revoke */
            soak_c_end_owned(atomic_exchange(&soak_slots[slot], 0), (r >> 16) & 1);
            break;
        case 11:
            CHECK(hdl_live_count() <= SOAK_SLOTS + 4096);
            break;
        case 12:
            if ((r >> 32) % 64 == 0) CHECK(hdl_flush(NULL) == HDL_STATUS_OK);
            break;
        case 13: /* NULL out-pointers and handle 0 */
            CHECK(hdl_lookup(0, 0, &p) == HDL_STATUS_NULL_HANDLE);
            if (h != 0) CHECK(hdl_lookup(h, 0, NULL) == HDL_STATUS_NULL_POINTER);
            CHECK(hdl_from_ptr(hdl_to_ptr(h)) == h);
            break;
        default: /* lookup + immediate release of a held reference's handle */
            if (held[slot % HELD] != 0) {
                s = hdl_lookup(held[slot % HELD], 0, &p);
                /* Our held reference keeps the entry from ending, not from being revoked. */
                if (s == HDL_STATUS_OK) {
                    check_obj(p, held[slot % HELD]);
                    CHECK(hdl_release(held[slot % HELD]) == HDL_STATUS_OK);
                } else {
                    CHECK(s == HDL_STATUS_STALE || s == HDL_STATUS_BUSY);
                }
            }
            break;
        }
    }
    for (int k = 0; k < HELD; k++)
        if (held[k] != 0) CHECK(hdl_release(held[k]) == HDL_STATUS_OK);
    atomic_fetch_add(&ops_done, ops);
    atomic_fetch_add(&threads_done, 1);
    return NULL;
}

static void *supervise(void *arg) {
    (void)arg;
    uint64_t n = 0;
    while (!atomic_load(&stop)) {
        pthread_t w[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
            n++;
            CHECK(pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)n) == 0);
        }
        for (int i = 0; i < WORKERS; i++) CHECK(pthread_join(w[i], NULL) == 0);
    }
    return NULL;
}

/* Starts the C supervisor thread. */
void soak_c_start(void) {
    atomic_store(&stop, 0);
    CHECK(pthread_create(&supervisor, NULL, supervise, NULL) == 0);
}

/* Stops the supervisor (after its current workers finish) and reports its counters. */
void soak_c_stop(uint64_t *threads, uint64_t *ops, uint64_t *objects) {
    atomic_store(&stop, 1);
    CHECK(pthread_join(supervisor, NULL) == 0);
    *threads = atomic_load(&threads_done);
    *ops = atomic_load(&ops_done);
    *objects = atomic_load(&objects_made);
}

/* After everything ended and a flush: how many C objects did not end exactly once. */
uint64_t soak_c_check_ends(void) {
    uint64_t n = atomic_load(&next_id), bad = 0;
    if (n > MAX_IDS) n = MAX_IDS;
    for (uint64_t i = 0; i < n; i++) {
        if (atomic_load(&ends[i]) != 1) {
            if (bad < 5) fprintf(stderr, "C object %llu ended %d times\n", (unsigned long long)i,
                                 (int)atomic_load(&ends[i]));
            bad++;
        }
    }
    return bad;
}

/* Slot access for the Rust threads. */
uint64_t soak_slot_swap(unsigned slot, uint64_t h) {
    return atomic_exchange(&soak_slots[slot % SOAK_SLOTS], h);
}

uint64_t soak_slot_get(unsigned slot) { return atomic_load(&soak_slots[slot % SOAK_SLOTS]); }

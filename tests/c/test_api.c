/* Every hdl_* function and every status, single-threaded: lifecycle, revoke, take, type tags,
 * forged and foreign handles, NULL arguments, panics, destructors exactly once. */
#include "common.h"

#define MAGIC 0x0b1ec7ULL
#define TAG_A 17u
#define TAG_B 42u
#define MAX_OBJS 4096

struct obj {
    uint64_t magic;
    int id;
};

static int destroyed[MAX_OBJS];
static int next_id;

static void destroy(void *p) {
    struct obj *o = p;
    CHECK(o->magic == MAGIC);
    CHECK(o->id >= 0 && o->id < MAX_OBJS);
    destroyed[o->id]++;
    o->magic = 0;
    free(o);
}

static struct obj *new_obj(void) {
    struct obj *o = malloc(sizeof *o);
    CHECK(o != NULL);
    CHECK(next_id < MAX_OBJS);
    o->magic = MAGIC;
    o->id = next_id++;
    return o;
}

static uint64_t insert_obj(uint32_t tag, struct obj **out) {
    struct obj *o = new_obj();
    uint64_t h = 0;
    CHECK_STATUS(hdl_insert(o, tag, destroy, &h), HDL_STATUS_OK);
    CHECK(h != 0);
    if (out) *out = o;
    return h;
}

static void test_version_and_names(void) {
    char expected[32];
    CHECK(hdl_version() == HDL_VERSION);
    CHECK(HDL_VERSION == ((HDL_VERSION_MAJOR << 16) | (HDL_VERSION_MINOR << 8) | HDL_VERSION_PATCH));
    snprintf(expected, sizeof expected, "%d.%d.%d", HDL_VERSION_MAJOR, HDL_VERSION_MINOR,
             HDL_VERSION_PATCH);
    CHECK(strcmp(hdl_version_string(), expected) == 0);

    static const char *const names[] = {
        "HDL_STATUS_OK",          "HDL_STATUS_NULL_HANDLE", "HDL_STATUS_NULL_POINTER",
        "HDL_STATUS_INVALID",     "HDL_STATUS_STALE",       "HDL_STATUS_WRONG_TABLE",
        "HDL_STATUS_WRONG_TYPE",  "HDL_STATUS_BUSY",        "HDL_STATUS_FULL",
        "HDL_STATUS_PANIC",       "HDL_STATUS_INVALID_ARGUMENT",
    };
    const hdl_status all[] = {
        HDL_STATUS_OK,         HDL_STATUS_NULL_HANDLE, HDL_STATUS_NULL_POINTER, HDL_STATUS_INVALID,
        HDL_STATUS_STALE,      HDL_STATUS_WRONG_TABLE, HDL_STATUS_WRONG_TYPE,   HDL_STATUS_BUSY,
        HDL_STATUS_FULL,       HDL_STATUS_PANIC,       HDL_STATUS_INVALID_ARGUMENT,
    };
    for (int i = 0; i < 11; i++) {
        CHECK((int)all[i] == i);
        CHECK(strcmp(hdl_status_name(i), names[i]) == 0);
    }
    CHECK(strcmp(hdl_status_name(-1), "HDL_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(hdl_status_name(11), "HDL_STATUS_UNKNOWN") == 0);
}

/* This program uses the library from one thread only, so every destructor runs inside the
 * call that ended its entry, in every policy: no hdl_flush needed. */
static void test_destructors_run_inside_the_ending_call(void) {
    CHECK(hdl_reclaim_policy() == HDL_RECLAIM_BACKGROUND); /* the default (HANDLES_RECLAIM unset) */
    CHECK_STATUS(hdl_set_reclaim_policy(3), HDL_STATUS_INVALID_ARGUMENT);
    CHECK(hdl_reclaim_policy() == HDL_RECLAIM_BACKGROUND);
    const uint32_t policies[] = {HDL_RECLAIM_CALLER, HDL_RECLAIM_EXPLICIT, HDL_RECLAIM_BACKGROUND};
    for (int p = 0; p < 3; p++) {
        CHECK_STATUS(hdl_set_reclaim_policy(policies[p]), HDL_STATUS_OK);
        CHECK(hdl_reclaim_policy() == policies[p]);
        struct obj *o;
        uint64_t h = insert_obj(TAG_A, &o);
        int id = o->id;
        CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
        CHECK(destroyed[id] == 1); /* inside hdl_release */
        h = insert_obj(TAG_A, &o);
        id = o->id;
        CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
        CHECK(destroyed[id] == 1); /* inside hdl_revoke */
    }
}

static void test_insert_and_null_arguments(void) {
    uint64_t h = 77;
    struct obj *o = new_obj();
    size_t before = hdl_live_count();
    CHECK_STATUS(hdl_insert(NULL, TAG_A, destroy, &h), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(hdl_insert(o, TAG_A, destroy, NULL), HDL_STATUS_NULL_POINTER);
    CHECK(h == 77); /* outputs untouched on failure */
    CHECK(hdl_live_count() == before);
    flush_all();
    CHECK(destroyed[o->id] == 0); /* a failed insert does not keep or destroy the object */

    CHECK_STATUS(hdl_insert(o, TAG_A, destroy, &h), HDL_STATUS_OK);
    CHECK(h != 0 && h != 77);
    CHECK(hdl_is_live(h));
    CHECK(hdl_live_count() == before + 1);

    void *out = (void *)&h;
    uint32_t tag = 5;
    CHECK_STATUS(hdl_lookup(0, 0, &out), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(hdl_lookup(h, 0, NULL), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(hdl_take(0, 0, &out), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(hdl_take(h, 0, NULL), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(hdl_type_tag(0, &tag), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(hdl_type_tag(h, NULL), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(hdl_retain(0), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(hdl_release(0), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(hdl_revoke(0), HDL_STATUS_NULL_HANDLE);
    CHECK(!hdl_is_live(0));
    CHECK(out == (void *)&h && tag == 5);

    CHECK_STATUS(hdl_type_tag(h, &tag), HDL_STATUS_OK);
    CHECK(tag == TAG_A);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    CHECK(hdl_live_count() == before);
    flush_all();
    CHECK(destroyed[next_id - 1] == 1);
}

static void test_lookup_retain_release(void) {
    struct obj *o;
    uint64_t h = insert_obj(TAG_A, &o);
    int id = o->id;
    void *out = NULL;

    /* Type-tag mismatch: an error, and no reference is kept (take would say BUSY). */
    CHECK_STATUS(hdl_lookup(h, TAG_B, &out), HDL_STATUS_WRONG_TYPE);
    CHECK(out == NULL);
    CHECK_STATUS(hdl_take(h, TAG_B, &out), HDL_STATUS_WRONG_TYPE);
    CHECK(out == NULL);

    CHECK_STATUS(hdl_lookup(h, TAG_A, &out), HDL_STATUS_OK); /* refs: 2 */
    CHECK(out == o);
    out = NULL;
    CHECK_STATUS(hdl_lookup(h, 0, &out), HDL_STATUS_OK); /* 0 = any tag; refs: 3 */
    CHECK(out == o);
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_OK); /* refs: 4 */
    CHECK_STATUS(hdl_take(h, TAG_A, &out), HDL_STATUS_BUSY);
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
        CHECK(hdl_is_live(h));
    }
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK); /* the last one: the entry ends */
    CHECK(!hdl_is_live(h));
    CHECK_STATUS(hdl_release(h), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_lookup(h, 0, &out), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_STALE);
    flush_all();
    CHECK(destroyed[id] == 1);
    flush_all();
    CHECK(destroyed[id] == 1);
}

static void test_revoke_with_outstanding_references(void) {
    struct obj *o;
    uint64_t h = insert_obj(TAG_B, &o);
    int id = o->id;
    void *a = NULL, *b = NULL;
    CHECK_STATUS(hdl_lookup(h, TAG_B, &a), HDL_STATUS_OK);
    CHECK_STATUS(hdl_lookup(h, TAG_B, &b), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    /* Stale for new users at once... */
    CHECK(!hdl_is_live(h));
    void *c = NULL;
    uint32_t tag = 0;
    CHECK_STATUS(hdl_lookup(h, TAG_B, &c), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_type_tag(h, &tag), HDL_STATUS_STALE);
    CHECK(c == NULL && tag == 0);
    /* ...but references taken earlier stay valid. */
    flush_all();
    CHECK(destroyed[id] == 0);
    CHECK(((struct obj *)a)->magic == MAGIC);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    flush_all();
    CHECK(destroyed[id] == 0);
    CHECK(((struct obj *)b)->magic == MAGIC);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_STALE);
    flush_all();
    CHECK(destroyed[id] == 1);
}

static void test_take(void) {
    struct obj *o;
    uint64_t h = insert_obj(TAG_A, &o);
    void *out = NULL;
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_take(h, TAG_A, &out), HDL_STATUS_BUSY);
    CHECK(out == NULL && hdl_is_live(h));
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_take(h, TAG_A, &out), HDL_STATUS_OK);
    CHECK(out == o);
    CHECK(!hdl_is_live(h));
    CHECK_STATUS(hdl_take(h, TAG_A, &out), HDL_STATUS_STALE);
    flush_all();
    CHECK(destroyed[o->id] == 0); /* ownership came back: no destructor */
    destroy(o);
    CHECK(destroyed[next_id - 1] == 1);

    /* A NULL destructor: nothing runs, nothing leaks (the object is static). */
    static int token;
    uint64_t t = 0;
    CHECK_STATUS(hdl_insert(&token, 0, NULL, &t), HDL_STATUS_OK);
    CHECK_STATUS(hdl_lookup(t, TAG_A, &out), HDL_STATUS_WRONG_TYPE); /* untagged */
    CHECK_STATUS(hdl_lookup(t, 0, &out), HDL_STATUS_OK);
    CHECK(out == &token);
    CHECK_STATUS(hdl_release(t), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(t), HDL_STATUS_OK);
    flush_all();
}

static void test_pointer_conversion(void) {
    uint64_t h = insert_obj(TAG_A, NULL);
    void *p = hdl_to_ptr(h);
    CHECK(p != NULL);
    CHECK(hdl_from_ptr(p) == h);
    CHECK(hdl_to_ptr(0) == NULL);
    CHECK(hdl_from_ptr(NULL) == 0);
    CHECK_STATUS(hdl_revoke(hdl_from_ptr(p)), HDL_STATUS_OK);
    flush_all();
}

static void test_wrong_table(void) {
    uint64_t foreign = hdl_testing_static_insert(9);
    void *out = NULL;
    uint32_t tag = 0;
    CHECK(hdl_testing_static_get(foreign) == 9);
    CHECK(!hdl_is_live(foreign));
    CHECK_STATUS(hdl_lookup(foreign, 0, &out), HDL_STATUS_WRONG_TABLE);
    CHECK_STATUS(hdl_retain(foreign), HDL_STATUS_WRONG_TABLE);
    CHECK_STATUS(hdl_release(foreign), HDL_STATUS_WRONG_TABLE);
    CHECK_STATUS(hdl_revoke(foreign), HDL_STATUS_WRONG_TABLE);
    CHECK_STATUS(hdl_take(foreign, 0, &out), HDL_STATUS_WRONG_TABLE);
    CHECK_STATUS(hdl_type_tag(foreign, &tag), HDL_STATUS_WRONG_TABLE);
    CHECK(out == NULL && tag == 0);
    CHECK(hdl_testing_static_get(foreign) == 9); /* untouched */
    CHECK(hdl_testing_static_remove(foreign));
}

/* Forged handles: random and adversarial values never crash and never reach another entry. */
static void test_forged_handles(void) {
    enum { LIVE = 64 };
    uint64_t live[LIVE];
    struct obj *objs[LIVE];
    for (int i = 0; i < LIVE; i++) live[i] = insert_obj(TAG_A, &objs[i]);
    size_t count = hdl_live_count();
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20000; round++) {
        uint64_t base = live[rng_next(&seed) % LIVE];
        uint64_t forged;
        switch (round % 6) {
        case 0: forged = rng_next(&seed); break;                        /* random */
        case 1: forged = base + (1ULL << 38); break;                     /* next generation */
        case 2: forged = base - (1ULL << 38); break;                     /* older generation */
        case 3: forged = base ^ (1ULL << (rng_next(&seed) % 64)); break; /* one bit flipped */
        case 4: forged = (base & ~0x3fffffULL) | 0x3fffff; break;        /* last index */
        default: forged = base ^ (1ULL << 28); break;                    /* other table tag */
        }
        int is_live_handle = 0;
        for (int i = 0; i < LIVE; i++) is_live_handle |= forged == live[i];
        if (is_live_handle || forged == 0) continue;
        void *out = NULL;
        uint32_t tag = 0;
        hdl_status s = hdl_lookup(forged, 0, &out);
        CHECK(s == HDL_STATUS_INVALID || s == HDL_STATUS_STALE || s == HDL_STATUS_WRONG_TABLE);
        CHECK(out == NULL);
        CHECK(hdl_retain(forged) == s);
        CHECK(hdl_release(forged) == s);
        CHECK(hdl_revoke(forged) == s);
        CHECK(hdl_take(forged, 0, &out) == s);
        CHECK(hdl_type_tag(forged, &tag) == s);
        CHECK(!hdl_is_live(forged));
        CHECK(out == NULL && tag == 0);
    }
    /* Nothing was reached: every entry still has exactly its owner's reference. */
    CHECK(hdl_live_count() == count);
    flush_all();
    for (int i = 0; i < LIVE; i++) {
        void *out = NULL;
        CHECK(destroyed[objs[i]->id] == 0);
        CHECK_STATUS(hdl_take(live[i], TAG_A, &out), HDL_STATUS_OK);
        CHECK(out == objs[i]);
        destroy(out);
    }
    /* Stale handles of taken entries, once their slots are reused, reach nothing either. */
    uint64_t fresh[LIVE];
    for (int i = 0; i < LIVE; i++) fresh[i] = insert_obj(TAG_B, NULL);
    for (int i = 0; i < LIVE; i++) {
        void *out = NULL;
        CHECK_STATUS(hdl_lookup(live[i], 0, &out), HDL_STATUS_STALE);
        CHECK_STATUS(hdl_revoke(live[i]), HDL_STATUS_STALE);
    }
    for (int i = 0; i < LIVE; i++) CHECK_STATUS(hdl_revoke(fresh[i]), HDL_STATUS_OK);
    flush_all();
}

/* INVALID precisely: a handle whose generation its slot has not reached. */
static void test_invalid(void) {
    uint64_t h = insert_obj(TAG_A, NULL);
    void *out = NULL;
    CHECK_STATUS(hdl_lookup(h + (1ULL << 38), 0, &out), HDL_STATUS_INVALID);
    CHECK_STATUS(hdl_lookup((h & ~0x3fffffULL) | 0x3ffff0, 0, &out), HDL_STATUS_INVALID);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    flush_all();
}

/* FULL: the reference count saturates at 2^23 - 1 without changing anything. */
static void test_full(void) {
    uint64_t h = insert_obj(TAG_A, NULL);
    uint64_t refs = 1;
    while (hdl_retain(h) == HDL_STATUS_OK) refs++;
    CHECK(refs == (1u << 23) - 1);
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_FULL);
    void *out = NULL;
    CHECK_STATUS(hdl_lookup(h, TAG_A, &out), HDL_STATUS_FULL);
    CHECK(out == NULL);
    while (refs-- > 1) CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    CHECK(hdl_is_live(h));
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    flush_all();
    CHECK(destroyed[next_id - 1] == 1);
}

/* Rust objects in the same registry, under the generic C functions. */
static void test_rust_objects_and_panics(void) {
    uint64_t h = 0, v = 0;
    uint64_t drops = hdl_testing_rust_drops();
    CHECK_STATUS(hdl_testing_insert_rust(TAG_B, 1234, false, &h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_testing_rust_value(h, false, &v), HDL_STATUS_OK);
    CHECK(v == 1234);
    v = 0;
    CHECK_STATUS(hdl_testing_rust_value(h, true, &v), HDL_STATUS_WRONG_TYPE);
    CHECK(v == 0);
    void *out = NULL;
    CHECK_STATUS(hdl_lookup(h, TAG_A, &out), HDL_STATUS_WRONG_TYPE);
    CHECK_STATUS(hdl_lookup(h, TAG_B, &out), HDL_STATUS_OK);
    CHECK(out != NULL);
    CHECK_STATUS(hdl_retain(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_take(h, 0, &out), HDL_STATUS_WRONG_TYPE); /* C cannot own a Rust value */
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_OK);
    /* Revoked: stale for new scoped lookups at once, while our reference keeps it alive. */
    CHECK_STATUS(hdl_testing_rust_value(h, false, &v), HDL_STATUS_STALE);
    flush_all();
    CHECK(hdl_testing_rust_drops() == drops);
    CHECK_STATUS(hdl_release(h), HDL_STATUS_OK);
    flush_all();
    CHECK(hdl_testing_rust_drops() == drops + 1);

    /* A C object is not a Rust object. */
    uint64_t c = insert_obj(TAG_B, NULL);
    CHECK_STATUS(hdl_testing_rust_value(c, false, &v), HDL_STATUS_WRONG_TYPE);
    CHECK_STATUS(hdl_revoke(c), HDL_STATUS_OK);

    /* PANIC: a Rust Drop that panics comes back as a status from the call that ran it. This
     * program is single-threaded, so that is the revoke that ended the entry (which still
     * happened); with other threads it would be a pass (`hdl_flush`, or reported by the
     * background reclaimer). */
    CHECK_STATUS(hdl_testing_insert_rust(TAG_B, 99, true, &h), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_PANIC);
    CHECK(hdl_testing_rust_drops() == drops + 2);
    CHECK(!hdl_is_live(h));
    CHECK_STATUS(hdl_revoke(h), HDL_STATUS_STALE);
    size_t pending = 777;
    CHECK_STATUS(hdl_flush(&pending), HDL_STATUS_OK); /* the registry stays usable */
    CHECK(pending == 0);
    CHECK(hdl_testing_rust_drops() == drops + 2);
}

/* A destructor may call back into the API, including on its own (now stale) handle. */
static uint64_t reentrant_handle;
static int reentrant_ran;
static void reentrant_destroy(void *p) {
    void *out = NULL;
    CHECK(p == &reentrant_handle);
    CHECK(!hdl_is_live(reentrant_handle));
    CHECK(hdl_lookup(reentrant_handle, 0, &out) == HDL_STATUS_STALE);
    uint64_t h = insert_obj(TAG_A, NULL);
    CHECK(hdl_revoke(h) == HDL_STATUS_OK);
    reentrant_ran++;
}

static void test_reentrant_destructor(void) {
    CHECK_STATUS(hdl_insert(&reentrant_handle, TAG_A, reentrant_destroy, &reentrant_handle),
                 HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(reentrant_handle), HDL_STATUS_OK);
    flush_all();
    flush_all(); /* the object the destructor inserted and revoked */
    CHECK(reentrant_ran == 1);
}

/* Many entries on one thread fill several pages of its home shard. The registry lives until
 * exit, so LeakSanitizer and valgrind (which run this test) must see every page as reachable,
 * not just the first: no leak report at exit. */
static void test_many_pages_are_not_leaks(void) {
    enum { N = 5000 };
    static int objects[N];
    static uint64_t hs[N];
    for (int i = 0; i < N; i++) CHECK_STATUS(hdl_insert(&objects[i], 3, NULL, &hs[i]), HDL_STATUS_OK);
    for (int i = 0; i < N; i++) CHECK_STATUS(hdl_revoke(hs[i]), HDL_STATUS_OK);
    flush_all();
}

int main(void) {
    size_t live0 = hdl_live_count();
    test_many_pages_are_not_leaks();
    test_version_and_names();
    test_destructors_run_inside_the_ending_call();
    test_insert_and_null_arguments();
    test_lookup_retain_release();
    test_revoke_with_outstanding_references();
    test_take();
    test_pointer_conversion();
    test_wrong_table();
    test_forged_handles();
    test_invalid();
    test_full();
    test_rust_objects_and_panics();
    test_reentrant_destructor();
    flush_all();
    CHECK(hdl_live_count() == live0);
    for (int i = 0; i < next_id; i++) {
        if (destroyed[i] != 1) {
            fprintf(stderr, "object %d destroyed %d times\n", i, destroyed[i]);
            return 1;
        }
    }
    printf("test_api: ok (%d objects, each destroyed exactly once)\n", next_id);
    return 0;
}

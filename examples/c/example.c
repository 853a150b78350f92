/* A C program using hdl.h: it puts its own objects in the registry, passes a handle through a
 * `void *user_data` to worker threads, and lets the registry run the destructor.
 *
 * Build (after `bash scripts/c-tests.sh --build-only`; for an installed libhdl see the README):
 *   export PKG_CONFIG_PATH=$PWD/target/c/pkgconfig
 *   cc -std=c99 -pthread examples/c/example.c $(pkg-config --cflags --libs hdl) -o example
 *   LD_LIBRARY_PATH=$(pkg-config --variable=libdir hdl) ./example
 */
#include <hdl.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define COUNTER_TAG 0xC0u

struct counter {
    pthread_mutex_t lock;
    long value;
};

static void counter_free(void *object) {
    struct counter *c = object;
    printf("destructor: counter at %ld, freed\n", c->value);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* A worker gets the handle as user_data, the way a C library passes callbacks' context. */
static void *worker(void *user_data) {
    uint64_t h = hdl_from_ptr(user_data);
    for (int i = 0; i < 1000; i++) {
        void *object;
        hdl_status s = hdl_lookup(h, COUNTER_TAG, &object); /* +1 reference */
        if (s != HDL_STATUS_OK) {
            fprintf(stderr, "lookup: %s\n", hdl_status_name((int)s));
            return NULL;
        }
        struct counter *c = object;
        pthread_mutex_lock(&c->lock);
        c->value++;
        pthread_mutex_unlock(&c->lock);
        hdl_release(h); /* -1 reference */
    }
    return NULL;
}

int main(void) {
    printf("hdl %s (header %d.%d.%d)\n", hdl_version_string(), HDL_VERSION_MAJOR,
           HDL_VERSION_MINOR, HDL_VERSION_PATCH);
    if (hdl_version() >> 8 != HDL_VERSION >> 8) {
        fprintf(stderr, "library and header versions differ\n");
        return 1;
    }

    struct counter *c = malloc(sizeof *c);
    if (c == NULL) return 1;
    pthread_mutex_init(&c->lock, NULL);
    c->value = 0;
    uint64_t h;
    hdl_status s = hdl_insert(c, COUNTER_TAG, counter_free, &h);
    if (s != HDL_STATUS_OK) {
        fprintf(stderr, "insert: %s\n", hdl_status_name((int)s));
        counter_free(c);
        return 1;
    }
    printf("inserted counter as handle 0x%016llx\n", (unsigned long long)h);

    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, hdl_to_ptr(h));
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);

    void *object;
    printf("wrong type tag: %s\n", hdl_status_name((int)hdl_lookup(h, 0xBAD, &object)));
    hdl_revoke(h); /* the owner's reference: the entry ends */
    printf("after revoke: live=%d, lookup: %s\n", (int)hdl_is_live(h),
           hdl_status_name((int)hdl_lookup(h, COUNTER_TAG, &object)));
    hdl_flush(NULL); /* run the destructor now rather than at the next reclamation pass */
    printf("live entries: %zu\n", hdl_live_count());
    return 0;
}

/* Shared helpers for the C tests of the hdl API. */
#ifndef HDL_TEST_COMMON_H
#define HDL_TEST_COMMON_H

#include "hdl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hooks exported by the library built with the `testing` feature (not in hdl.h). */
hdl_status hdl_testing_insert_rust(uint32_t type_tag, uint64_t value, bool panic_on_drop,
                                   uint64_t *out_handle);
hdl_status hdl_testing_rust_value(uint64_t handle, bool as_string, uint64_t *out_value);
uint64_t hdl_testing_rust_drops(void);
uint64_t hdl_testing_empty(uint64_t handle);
uint64_t hdl_testing_static_insert(uint64_t value);
uint64_t hdl_testing_static_get(uint64_t handle);
bool hdl_testing_static_remove(uint64_t handle);
/* Rust's layout of the header's types, by C name; SIZE_MAX for a name Rust does not know. */
size_t hdl_testing_sizeof(const char *type_name);
size_t hdl_testing_alignof(const char *type_name);
size_t hdl_testing_field_count(const char *type_name);
size_t hdl_testing_offsetof(const char *type_name, const char *field);
size_t hdl_testing_field_sizeof(const char *type_name, const char *field);

#ifdef __cplusplus
}
#endif

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(call, expected)                                                   \
    do {                                                                               \
        hdl_status got_ = (call);                                                      \
        if (got_ != (expected)) {                                                      \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__,  \
                    #call, hdl_status_name((int)got_), hdl_status_name((int)(expected)));  \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* xorshift64*: deterministic pseudo-random numbers. */
static inline uint64_t rng_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline void flush_all(void) {
    size_t pending = 12345;
    CHECK_STATUS(hdl_flush(&pending), HDL_STATUS_OK);
    CHECK(pending == 0);
}

#endif

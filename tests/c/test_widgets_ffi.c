/* A C program against widgets_ffi.h, the header cbindgen generates from examples/rust-ffi (a
 * Rust library written with handles::entry_points!): the generated prototypes link and behave
 * with the C API's status values, panics included. Built by scripts/c-tests.sh. */
#include "hdl.h" /* only for the HDL_STATUS_* values: the library returns them as uint32_t */
#include "widgets_ffi.h"

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

int main(void) {
    uint64_t a = widget_new(7);
    CHECK(a != 0);
    uint64_t b = 0;
    CHECK(widget_create(9, &b) == HDL_STATUS_OK && b != 0 && b != a);
    CHECK(widget_create(9, NULL) == HDL_STATUS_NULL_POINTER);
    CHECK(widget_count() == 2);

    uint32_t size = 0;
    CHECK(widget_size(a, &size) == HDL_STATUS_OK && size == 7);
    CHECK(widget_size(b, &size) == HDL_STATUS_OK && size == 9);
    CHECK(widget_size(a, NULL) == HDL_STATUS_NULL_POINTER);
    CHECK(widget_size(0, &size) == HDL_STATUS_NULL_HANDLE);
    CHECK(widget_size(a ^ (1ull << 60), &size) == HDL_STATUS_INVALID);

    /* A panic inside the Rust entry point is a status, not an abort. */
    uint64_t bomb = widget_new(666);
    size = 1;
    CHECK(widget_size(bomb, &size) == HDL_STATUS_PANIC && size == 1);
    CHECK(widget_free(bomb) == HDL_STATUS_OK);

    CHECK(widget_retain(a) == HDL_STATUS_OK);
    CHECK(widget_free(a) == HDL_STATUS_OK);
    CHECK(widget_size(a, &size) == HDL_STATUS_STALE);
    CHECK(widget_release(a) == HDL_STATUS_OK); /* the reference taken before the free */
    CHECK(widget_release(a) == HDL_STATUS_STALE);
    CHECK(widget_free(a) == HDL_STATUS_STALE);
    CHECK(widget_release(b) == HDL_STATUS_OK);
    CHECK(widget_count() == 0);
    printf("test_widgets_ffi: ok\n");
    return 0;
}

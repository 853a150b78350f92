/* Typed handles (include/hdl_typed.h): the typed wrappers of two types side by side, their
 * statuses, outputs on success only, the registry's tag check behind them, destructors exactly
 * once, and that a typed handle is one uint64_t. */
#include "common.h"
#include "hdl_typed.h"

#define WIDGET_TAG 0x57494447u /* "WIDG" */
#define GADGET_TAG 0x47414447u /* "GADG" */

struct widget {
    int size;
};
struct gadget {
    const char *label;
};

HDL_DEFINE_HANDLE(widget, WIDGET_TAG);
HDL_DEFINE_HANDLE(gadget, GADGET_TAG);

_Static_assert(sizeof(widget_handle) == sizeof(uint64_t), "a typed handle is one uint64_t");
_Static_assert(_Alignof(widget_handle) == _Alignof(uint64_t), "with a uint64_t's alignment");

static int widgets_destroyed, gadgets_destroyed;

static void destroy_widget(void *p) {
    widgets_destroyed++;
    free(p);
}

static void destroy_gadget(void *p) {
    gadgets_destroyed++;
    free(p);
}

/* A function of the user's own API that takes a typed handle. */
static int widget_size(widget_handle h) {
    struct widget *w = NULL;
    if (widget_lookup(h, &w) != HDL_STATUS_OK) return -1;
    int size = w->size;
    CHECK_STATUS(widget_release(h), HDL_STATUS_OK);
    return size;
}

int main(void) {
    enum { N = 100 };
    widget_handle widgets[N];
    for (int i = 0; i < N; i++) {
        struct widget *w = malloc(sizeof *w);
        CHECK(w != NULL);
        w->size = i;
        widgets[i].raw = 0;
        CHECK_STATUS(widget_insert(w, destroy_widget, &widgets[i]), HDL_STATUS_OK);
        CHECK(widgets[i].raw != 0);
        CHECK(widget_is_live(widgets[i]));
    }
    for (int i = 0; i < N; i++) CHECK(widget_size(widgets[i]) == i);

    struct gadget *g0 = malloc(sizeof *g0);
    CHECK(g0 != NULL);
    g0->label = "gear";
    gadget_handle g = {0};
    CHECK_STATUS(gadget_insert(g0, destroy_gadget, &g), HDL_STATUS_OK);
    struct gadget *gp = NULL;
    CHECK_STATUS(gadget_lookup(g, &gp), HDL_STATUS_OK);
    CHECK(gp == g0 && strcmp(gp->label, "gear") == 0);
    CHECK_STATUS(gadget_release(g), HDL_STATUS_OK);

    /* The registry checks the tag behind the types: a gadget's value wrapped as a widget. */
    struct widget *w = (struct widget *)0x1;
    widget_handle forged = widget_from_raw(g.raw);
    CHECK_STATUS(widget_lookup(forged, &w), HDL_STATUS_WRONG_TYPE);
    CHECK_STATUS(widget_take(forged, &w), HDL_STATUS_WRONG_TYPE);
    CHECK(w == (struct widget *)0x1); /* outputs on success only */
    CHECK(widget_size(forged) == -1);

    /* NULL outputs, handle 0. */
    widget_handle none = {0};
    CHECK_STATUS(widget_insert(NULL, destroy_widget, &none), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(widget_insert((struct widget *)g0, destroy_widget, NULL), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(widget_lookup(widgets[0], NULL), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(widget_take(widgets[0], NULL), HDL_STATUS_NULL_POINTER);
    CHECK_STATUS(widget_lookup(none, &w), HDL_STATUS_NULL_HANDLE);
    CHECK_STATUS(widget_retain(none), HDL_STATUS_NULL_HANDLE);
    CHECK(!widget_is_live(none));

    /* void *user_data round trip. */
    void *user_data = widget_to_ptr(widgets[1]);
    CHECK(widget_from_ptr(user_data).raw == widgets[1].raw);
    CHECK(widget_from_ptr(NULL).raw == 0);

    /* Counted references, revoke with a reference out, take. */
    CHECK_STATUS(widget_retain(widgets[2]), HDL_STATUS_OK);
    CHECK_STATUS(widget_revoke(widgets[2]), HDL_STATUS_OK);
    CHECK(!widget_is_live(widgets[2]));
    CHECK_STATUS(widget_lookup(widgets[2], &w), HDL_STATUS_STALE);
    CHECK_STATUS(widget_release(widgets[2]), HDL_STATUS_OK); /* the reference taken before */
    CHECK_STATUS(widget_release(widgets[2]), HDL_STATUS_STALE);
    CHECK_STATUS(widget_retain(widgets[3]), HDL_STATUS_OK);
    CHECK_STATUS(widget_take(widgets[3], &w), HDL_STATUS_BUSY);
    CHECK_STATUS(widget_release(widgets[3]), HDL_STATUS_OK);
    w = NULL;
    CHECK_STATUS(widget_take(widgets[3], &w), HDL_STATUS_OK);
    CHECK(w != NULL && w->size == 3);
    free(w); /* taken back: no destructor */

    for (int i = 0; i < N; i++) {
        if (i != 2 && i != 3) CHECK_STATUS(widget_revoke(widgets[i]), HDL_STATUS_OK);
    }
    CHECK_STATUS(gadget_revoke(g), HDL_STATUS_OK);
    CHECK_STATUS(gadget_revoke(g), HDL_STATUS_STALE);
    flush_all();
    CHECK(widgets_destroyed == N - 1);
    CHECK(gadgets_destroyed == 1);
    printf("test_typed: ok\n");
    return 0;
}

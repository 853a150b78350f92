/* Compile-fail check of include/hdl_typed.h (scripts/c-tests.sh): built with -DMISUSE=N, each
 * case must fail to compile; without MISUSE it must compile and run (so the cases fail for
 * the type error alone). */
#include "hdl_typed.h"

struct widget;
struct gadget;
HDL_DEFINE_HANDLE(widget, 1u);
HDL_DEFINE_HANDLE(gadget, 2u);

int main(void) {
    gadget_handle g = {0};
    widget_handle w = {0};
    struct gadget *gp = NULL;
    struct widget *wp = NULL;
    (void)g, (void)w, (void)gp, (void)wp;
#if !defined(MISUSE)
    return widget_release(w) == HDL_STATUS_NULL_HANDLE && gadget_lookup(g, &gp) != HDL_STATUS_OK
               ? 0
               : 1;
#elif MISUSE == 1 /* a gadget handle where a widget handle is expected */
    return widget_release(g);
#elif MISUSE == 2 /* a bare uint64_t where a widget handle is expected */
    return widget_revoke(g.raw);
#elif MISUSE == 3 /* a typed handle where hdl.h expects a uint64_t */
    return hdl_release(w);
#elif MISUSE == 4 /* a gadget's out-pointer for a widget lookup */
    return widget_lookup(w, &gp);
#elif MISUSE == 5 /* assigning one handle type to the other */
    w = g;
    return 0;
#endif
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * hdl_typed.h: typed handles for C over hdl.h.
 *
 *   struct widget;                            (your type; may stay incomplete here)
 *   #define WIDGET_TAG 0x57494447u            (your type tag, "WIDG")
 *   HDL_DEFINE_HANDLE(widget, WIDGET_TAG);
 *
 * declares `widget_handle`, a struct holding the handle's uint64_t, and static inline
 * functions that call the hdl_* function of the same name with the tag filled in and the
 * object typed `struct widget *`:
 *
 *   hdl_status widget_insert(struct widget *obj, hdl_destructor dtor, widget_handle *out);
 *   hdl_status widget_lookup(widget_handle h, struct widget **out);   (+1 reference)
 *   hdl_status widget_take(widget_handle h, struct widget **out);
 *   hdl_status widget_retain(widget_handle h);
 *   hdl_status widget_release(widget_handle h);
 *   hdl_status widget_revoke(widget_handle h);
 *   bool       widget_is_live(widget_handle h);
 *   void      *widget_to_ptr(widget_handle h);           (for void *user_data)
 *   widget_handle widget_from_ptr(const void *ptr);
 *   widget_handle widget_from_raw(uint64_t raw);         (the unchecked way in: any uint64_t)
 *
 * Passing a gadget_handle where a widget_handle is expected does not compile, and the ABI is
 * unchanged: a widget_handle is one uint64_t (`.raw`), passed and returned like one, and 0
 * (`widget_handle h = {0};`) is still "no handle". The tag is checked by the registry too:
 * widget_lookup and widget_take of an entry inserted with another tag are HDL_STATUS_WRONG_TYPE
 * (retain, release and revoke leave that check to the compiler: a widget_handle from
 * widget_from_raw or widget_from_ptr is whatever value you gave it). Statuses,
 * ownership and thread-safety are those of the hdl_* functions (see hdl.h); outputs are
 * written on success only. Works in C99 and later, and in C++.
 */

#ifndef HDL_TYPED_H
#define HDL_TYPED_H

#include "hdl.h"

#define HDL_DEFINE_HANDLE(name, tag)                                                      \
    typedef struct name##_handle {                                                        \
        uint64_t raw;                                                                     \
    } name##_handle;                                                                      \
    static inline name##_handle name##_from_raw(uint64_t raw) {                           \
        name##_handle h;                                                                  \
        h.raw = raw;                                                                      \
        return h;                                                                         \
    }                                                                                     \
    static inline hdl_status name##_insert(struct name *object, hdl_destructor destructor, \
                                           name##_handle *out) {                          \
        uint64_t raw = 0;                                                                 \
        hdl_status s;                                                                     \
        if (out == NULL) return HDL_STATUS_NULL_POINTER;                                  \
        s = hdl_insert(object, (tag), destructor, &raw);                                  \
        if (s == HDL_STATUS_OK) out->raw = raw;                                           \
        return s;                                                                         \
    }                                                                                     \
    static inline hdl_status name##_lookup(name##_handle h, struct name **out) {          \
        void *object = NULL;                                                              \
        hdl_status s;                                                                     \
        if (out == NULL) return HDL_STATUS_NULL_POINTER;                                  \
        s = hdl_lookup(h.raw, (tag), &object);                                            \
        if (s == HDL_STATUS_OK) *out = (struct name *)object;                             \
        return s;                                                                         \
    }                                                                                     \
    static inline hdl_status name##_take(name##_handle h, struct name **out) {            \
        void *object = NULL;                                                              \
        hdl_status s;                                                                     \
        if (out == NULL) return HDL_STATUS_NULL_POINTER;                                  \
        s = hdl_take(h.raw, (tag), &object);                                              \
        if (s == HDL_STATUS_OK) *out = (struct name *)object;                             \
        return s;                                                                         \
    }                                                                                     \
    static inline hdl_status name##_retain(name##_handle h) { return hdl_retain(h.raw); } \
    static inline hdl_status name##_release(name##_handle h) { return hdl_release(h.raw); } \
    static inline hdl_status name##_revoke(name##_handle h) { return hdl_revoke(h.raw); } \
    static inline bool name##_is_live(name##_handle h) { return hdl_is_live(h.raw); }     \
    static inline void *name##_to_ptr(name##_handle h) { return hdl_to_ptr(h.raw); }      \
    static inline name##_handle name##_from_ptr(const void *ptr) {                        \
        return name##_from_raw(hdl_from_ptr(ptr));                                        \
    }                                                                                     \
    typedef int name##_handle_defined_ /* ends the macro's expansion with a declaration */

#endif /* HDL_TYPED_H */

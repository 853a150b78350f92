// SPDX-License-Identifier: MIT OR Apache-2.0
//
// hdl.hpp: header-only C++17 over the C API of hdl.h.
//
//   struct widget { int size; };
//   template <> struct hdl::type_tag<widget> : std::integral_constant<uint32_t, 0x57494447u> {};
//
//   std::error_code ec;
//   auto w = hdl::owner<widget>::insert(new widget{3}, [](void *p) { delete static_cast<widget *>(p); }, ec);
//   uint64_t h = w.get();                       // give C the handle
//   if (auto b = hdl::borrow<widget>::lookup(h, ec)) b->size++;   // scoped: released at '}'
//   hdl::ref<widget> r = hdl::ref<widget>::lookup(h, ec);         // counted: copies retain
//   // ~owner revokes the handle; the destructor runs when the last ref is gone.
//
// * owner<T>: move-only; owns the reference hdl_insert returns and revokes the handle in its
//   destructor (or in revoke()); detach() hands the raw handle over without revoking.
// * ref<T>: a counted reference and the object pointer (hdl_lookup); copies hdl_retain, the
//   destructor hdl_release. Like a shared_ptr, it keeps the object alive after a revoke.
// * borrow<T>: the same reference held for one scope: neither copyable nor movable.
// * Statuses are std::error_code values of hdl::status_category() (hdl_status converts
//   implicitly: `std::error_code ec = HDL_STATUS_STALE;`). Nothing here throws, except
//   hdl::throw_if_error(ec), which throws std::system_error: the opt-in for code that wants
//   exceptions (it exists only when exceptions are enabled).
// * Type tags: T's tag is hdl::type_tag<T>::value (specialise it), or give it as the second
//   template argument (owner<widget, WIDGET_TAG>); lookups check it (HDL_STATUS_WRONG_TYPE).
//
// Thread-safety: that of the hdl_* functions (any thread). One owner, ref or borrow object is
// not itself synchronised: share handles or copies, not one object, between threads.

#ifndef HDL_HPP
#define HDL_HPP

#include "hdl.h"

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace hdl {

namespace detail {

class status_category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "hdl"; }

    std::string message(int value) const override {
        switch (value) {
        case HDL_STATUS_OK: return "success";
        case HDL_STATUS_NULL_HANDLE: return "the handle was 0";
        case HDL_STATUS_NULL_POINTER: return "a required pointer argument was NULL";
        case HDL_STATUS_INVALID: return "the handle was never issued by the registry";
        case HDL_STATUS_STALE: return "the handle's entry has ended (released, revoked or taken)";
        case HDL_STATUS_WRONG_TABLE: return "the handle was issued by another handle table";
        case HDL_STATUS_WRONG_TYPE: return "the entry's type tag is not the one expected";
        case HDL_STATUS_BUSY: return "the entry is in use";
        case HDL_STATUS_FULL: return "capacity exhausted";
        case HDL_STATUS_PANIC: return "a Rust panic was caught at the boundary";
        case HDL_STATUS_INVALID_ARGUMENT: return "an argument is out of range";
        default: return hdl_status_name(value);
        }
    }

    // Stale, invalid, foreign and NULL handles compare equal to std::errc::invalid_argument;
    // FULL to not_enough_memory, BUSY to device_or_resource_busy.
    std::error_condition default_error_condition(int value) const noexcept override {
        switch (value) {
        case HDL_STATUS_NULL_HANDLE:
        case HDL_STATUS_NULL_POINTER:
        case HDL_STATUS_INVALID:
        case HDL_STATUS_STALE:
        case HDL_STATUS_WRONG_TABLE:
        case HDL_STATUS_WRONG_TYPE:
        case HDL_STATUS_INVALID_ARGUMENT:
            return std::errc::invalid_argument;
        case HDL_STATUS_BUSY: return std::errc::device_or_resource_busy;
        case HDL_STATUS_FULL: return std::errc::not_enough_memory;
        default: return std::error_condition(value, *this);
        }
    }
};

}  // namespace detail

// The category of hdl_status values (one object in the whole program).
inline const std::error_category &status_category() noexcept {
    static const detail::status_category_impl category{};
    return category;
}

}  // namespace hdl

// Found by argument-dependent lookup for hdl_status, which is in the global namespace.
inline std::error_code make_error_code(hdl_status s) noexcept {
    return std::error_code(static_cast<int>(s), hdl::status_category());
}

namespace std {
template <>
struct is_error_code_enum<hdl_status> : true_type {};
}  // namespace std

namespace hdl {

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
// The opt-in for exceptions: throws std::system_error(ec) if ec is an error.
inline void throw_if_error(const std::error_code &ec) {
    if (ec) throw std::system_error(ec);
}
#endif

// T's type tag: specialise it (value: a uint32_t, not 0 unless untagged), or pass the tag as
// the second template argument of owner, ref and borrow.
template <typename T>
struct type_tag;

// Sets ec from s, and returns whether s is HDL_STATUS_OK.
inline bool set(std::error_code &ec, hdl_status s) noexcept {
    ec = s;
    return s == HDL_STATUS_OK;
}

template <typename T, uint32_t Tag = type_tag<T>::value>
class ref;
template <typename T, uint32_t Tag = type_tag<T>::value>
class borrow;

// The owner of an entry: the reference hdl_insert returned. Move-only; its destructor revokes
// the handle (the object is destroyed once no ref or borrow holds it any more).
template <typename T, uint32_t Tag = type_tag<T>::value>
class owner {
public:
    owner() noexcept = default;
    owner(const owner &) = delete;
    owner &operator=(const owner &) = delete;
    owner(owner &&other) noexcept : handle_(std::exchange(other.handle_, 0)) {}
    owner &operator=(owner &&other) noexcept {
        if (this != &other) {
            revoke();
            handle_ = std::exchange(other.handle_, 0);
        }
        return *this;
    }
    ~owner() { revoke(); }

    // Inserts `object` with T's tag; `destructor(object)` runs once when the entry ends (NULL:
    // nothing). On error: an empty owner, `ec` set, and `object` is still yours.
    static owner insert(T *object, hdl_destructor destructor, std::error_code &ec) noexcept {
        uint64_t h = 0;
        set(ec, hdl_insert(static_cast<void *>(object), Tag, destructor, &h));
        return owner(h);
    }

    // Takes charge of a handle whose owner's reference is yours (from hdl_insert).
    static owner adopt(uint64_t handle) noexcept { return owner(handle); }

    // The handle (0 if empty): what C code stores and passes back.
    uint64_t get() const noexcept { return handle_; }
    explicit operator bool() const noexcept { return handle_ != 0; }

    // Gives up ownership without revoking: the caller now owns the handle's reference.
    uint64_t detach() noexcept { return std::exchange(handle_, 0); }

    // Revokes the handle now (the destructor's job), leaving this owner empty.
    std::error_code revoke() noexcept {
        if (handle_ == 0) return {};
        return hdl_revoke(std::exchange(handle_, 0));
    }

    // Takes the object back (no destructor runs) if nothing else references it; the owner is
    // then empty. On error (HDL_STATUS_BUSY, ...) nothing changes and `out` is not written.
    std::error_code take(T *&out) noexcept {
        void *object = nullptr;
        std::error_code ec = hdl_take(handle_, Tag, &object);
        if (!ec) {
            out = static_cast<T *>(object);
            handle_ = 0;
        }
        return ec;
    }

    ref<T, Tag> share(std::error_code &ec) const noexcept { return ref<T, Tag>::lookup(handle_, ec); }

private:
    explicit owner(uint64_t handle) noexcept : handle_(handle) {}
    uint64_t handle_ = 0;
};

// A counted reference to an entry with its object pointer (hdl_lookup). Copies retain (a copy
// of a revoked entry's ref, or at the reference-count maximum, is empty); the destructor
// releases. The object stays valid while any ref or borrow holds it, even after a revoke.
template <typename T, uint32_t Tag>
class ref {
public:
    ref() noexcept = default;
    ref(const ref &other) noexcept { copy_from(other); }
    ref &operator=(const ref &other) noexcept {
        if (this != &other) {
            reset();
            copy_from(other);
        }
        return *this;
    }
    ref(ref &&other) noexcept
        : handle_(std::exchange(other.handle_, 0)), object_(std::exchange(other.object_, nullptr)) {}
    ref &operator=(ref &&other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, 0);
            object_ = std::exchange(other.object_, nullptr);
        }
        return *this;
    }
    ~ref() { reset(); }

    // +1 reference to `handle`'s entry, checked against T's tag. On error: empty, `ec` set.
    static ref lookup(uint64_t handle, std::error_code &ec) noexcept {
        ref r;
        void *object = nullptr;
        if (set(ec, hdl_lookup(handle, Tag, &object))) {
            r.handle_ = handle;
            r.object_ = static_cast<T *>(object);
        }
        return r;
    }

    uint64_t handle() const noexcept { return handle_; }
    T *get() const noexcept { return object_; }
    T &operator*() const noexcept { return *object_; }
    T *operator->() const noexcept { return object_; }
    explicit operator bool() const noexcept { return object_ != nullptr; }

    // Releases the reference now (the destructor's job), leaving this ref empty.
    std::error_code reset() noexcept {
        if (handle_ == 0) return {};
        object_ = nullptr;
        return hdl_release(std::exchange(handle_, 0));
    }

private:
    void copy_from(const ref &other) noexcept {
        if (other.handle_ != 0 && hdl_retain(other.handle_) == HDL_STATUS_OK) {
            handle_ = other.handle_;
            object_ = other.object_;
        }
    }

    uint64_t handle_ = 0;
    T *object_ = nullptr;
};

// A reference held for one scope: `if (auto b = hdl::borrow<T>::lookup(h, ec)) use(*b);`.
// Neither copyable nor movable; released at the end of the scope.
template <typename T, uint32_t Tag>
class borrow {
public:
    borrow(const borrow &) = delete;
    borrow &operator=(const borrow &) = delete;
    ~borrow() {
        if (object_ != nullptr) hdl_release(handle_);
    }

    // Borrows `handle`'s entry, checked against T's tag. On error: empty, `ec` set.
    static borrow lookup(uint64_t handle, std::error_code &ec) noexcept {
        void *object = nullptr;
        if (!set(ec, hdl_lookup(handle, Tag, &object))) object = nullptr;
        return borrow(handle, static_cast<T *>(object));
    }

    T *get() const noexcept { return object_; }
    T &operator*() const noexcept { return *object_; }
    T *operator->() const noexcept { return object_; }
    explicit operator bool() const noexcept { return object_ != nullptr; }

private:
    borrow(uint64_t handle, T *object) noexcept : handle_(handle), object_(object) {}
    uint64_t handle_;
    T *object_;
};

// Calls f(T &) with `handle`'s object borrowed for the call; returns the lookup's status (f is
// not called on error).
template <typename T, uint32_t Tag = type_tag<T>::value, typename F>
std::error_code with(uint64_t handle, F &&f) {
    std::error_code ec;
    if (auto b = borrow<T, Tag>::lookup(handle, ec)) std::forward<F>(f)(*b);
    return ec;
}

}  // namespace hdl

#endif  // HDL_HPP

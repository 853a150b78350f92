// include/hdl.hpp: owner, ref, borrow and with over typed tags, statuses as std::error_code,
// the opt-in exception, destructors exactly once; include/hdl_typed.h compiles as C++ too.
// Built as C++17 and C++20 (-Wall -Wextra -Wpedantic -Werror), run under ASan+UBSan and
// valgrind by scripts/c-tests.sh.
#include "common.h"
#include "hdl.hpp"
#include "hdl_typed.h"

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

int widgets_destroyed = 0;
int gadgets_destroyed = 0;

struct widget {
    int size;
};
struct gadget {
    int teeth;
};

constexpr uint32_t GADGET_TAG = 0x47414447u;  // "GADG"

void destroy_widget(void *p) {
    widgets_destroyed++;
    delete static_cast<widget *>(p);
}
void destroy_gadget(void *p) {
    gadgets_destroyed++;
    delete static_cast<gadget *>(p);
}

}  // namespace

template <>
struct hdl::type_tag<widget> : std::integral_constant<uint32_t, 0x57494447u> {};  // "WIDG"

HDL_DEFINE_HANDLE(gadget, GADGET_TAG);

using widget_owner = hdl::owner<widget>;
using gadget_owner = hdl::owner<gadget, GADGET_TAG>;  // the tag as a template argument

static_assert(!std::is_copy_constructible_v<widget_owner>, "owner is move-only");
static_assert(std::is_nothrow_move_constructible_v<widget_owner>, "owner moves");
static_assert(std::is_copy_constructible_v<hdl::ref<widget>>, "ref is copyable");
static_assert(!std::is_copy_constructible_v<hdl::borrow<widget>> &&
                  !std::is_move_constructible_v<hdl::borrow<widget>>,
              "borrow is scoped");
static_assert(sizeof(widget_owner) == sizeof(uint64_t), "an owner is its handle");

static void statuses() {
    std::error_code ec = HDL_STATUS_STALE;  // hdl_status converts implicitly
    CHECK(ec);
    CHECK(ec.category() == hdl::status_category());
    CHECK(std::string(ec.category().name()) == "hdl");
    CHECK(ec.value() == HDL_STATUS_STALE);
    CHECK(ec == HDL_STATUS_STALE);
    CHECK(ec == std::errc::invalid_argument);
    CHECK(!ec.message().empty());
    CHECK(std::error_code(HDL_STATUS_BUSY) == std::errc::device_or_resource_busy);
    CHECK(std::error_code(HDL_STATUS_FULL) == std::errc::not_enough_memory);
    CHECK(!std::error_code(HDL_STATUS_OK));
    for (int s = 0; s <= static_cast<int>(HDL_STATUS_INVALID_ARGUMENT); s++) {
        CHECK(!hdl::status_category().message(s).empty());
    }
    CHECK(hdl::status_category().message(1000) == "HDL_STATUS_UNKNOWN");
    bool thrown = false;
    try {
        hdl::throw_if_error(ec);
    } catch (const std::system_error &e) {
        thrown = e.code() == HDL_STATUS_STALE;
    }
    CHECK(thrown);
    hdl::throw_if_error(std::error_code());  // success does not throw
}

static void owners_refs_borrows() {
    std::error_code ec;
    widget_owner w = widget_owner::insert(new widget{3}, destroy_widget, ec);
    CHECK(!ec && w && w.get() != 0);
    const uint64_t h = w.get();

    // Scoped borrow, and with().
    if (auto b = hdl::borrow<widget>::lookup(h, ec)) {
        CHECK(b->size == 3);
        b->size = 4;
    }
    CHECK(!ec);
    CHECK(!hdl::with<widget>(h, [](widget &x) { x.size++; }));
    CHECK(hdl::with<widget>(0, [](widget &) { CHECK(false); }) == HDL_STATUS_NULL_HANDLE);

    // Counted references: copies retain, the object outlives the owner's revoke.
    hdl::ref<widget> r = w.share(ec);
    CHECK(!ec && r && r->size == 5 && r.handle() == h);
    hdl::ref<widget> copy = r;
    CHECK(copy && copy.get() == r.get());
    std::vector<hdl::ref<widget>> many(8, r);
    CHECK(many.back()->size == 5);
    many.clear();

    widget_owner moved = std::move(w);
    CHECK(!w && moved.get() == h);  // NOLINT: the moved-from owner is empty by contract
    CHECK(!moved.revoke());
    CHECK(!moved);
    CHECK(!hdl_is_live(h));
    CHECK((*r).size == 5);  // the references taken before still hold the object
    hdl::ref<widget> late = r;  // a copy of a revoked entry's reference is empty
    CHECK(!late);
    auto stale = hdl::borrow<widget>::lookup(h, ec);
    CHECK(!stale && ec == HDL_STATUS_STALE);
    copy = hdl::ref<widget>();
    flush_all();
    CHECK(widgets_destroyed == 0);
    CHECK(!r.reset());
    flush_all();
    CHECK(widgets_destroyed == 1);  // the last reference ended it, exactly once

    // Destructor revokes; moves and move-assignment end the previous entry.
    {
        widget_owner a = widget_owner::insert(new widget{1}, destroy_widget, ec);
        widget_owner b = widget_owner::insert(new widget{2}, destroy_widget, ec);
        CHECK(!ec);
        a = std::move(b);  // a's first entry is revoked here
        CHECK(a && !b);    // NOLINT: moved-from
    }
    flush_all();
    CHECK(widgets_destroyed == 3);

    // Type tags: a gadget is not a widget.
    gadget_owner g = gadget_owner::insert(new gadget{12}, destroy_gadget, ec);
    CHECK(!ec);
    auto wrong = hdl::ref<widget>::lookup(g.get(), ec);
    CHECK(!wrong && ec == HDL_STATUS_WRONG_TYPE);
    auto right = hdl::ref<gadget, GADGET_TAG>::lookup(g.get(), ec);
    CHECK(!ec && right->teeth == 12);

    // The C typed handle of the same entry (hdl_typed.h in C++).
    gadget_handle gh = gadget_from_raw(g.get());
    gadget *gp = nullptr;
    CHECK_STATUS(gadget_lookup(gh, &gp), HDL_STATUS_OK);
    CHECK(gp == right.get());
    CHECK_STATUS(gadget_release(gh), HDL_STATUS_OK);

    // take: busy while a reference is out, then the object comes back without its destructor.
    gadget *taken = nullptr;
    CHECK(g.take(taken) == HDL_STATUS_BUSY && taken == nullptr && g);
    right.reset();
    CHECK(!g.take(taken) && taken != nullptr && taken->teeth == 12 && !g);
    delete taken;

    // detach and adopt.
    gadget_owner d = gadget_owner::insert(new gadget{1}, destroy_gadget, ec);
    const uint64_t raw = d.detach();
    CHECK(!d && hdl_is_live(raw));
    { gadget_owner back = gadget_owner::adopt(raw); }
    CHECK(!hdl_is_live(raw));

    // Insertion errors: an empty owner, the object still the caller's.
    widget_owner none = widget_owner::insert(nullptr, destroy_widget, ec);
    CHECK(!none && ec == HDL_STATUS_NULL_POINTER);
    flush_all();
    CHECK(widgets_destroyed == 3 && gadgets_destroyed == 1);
}

int main() {
    statuses();
    owners_refs_borrows();
    std::printf("test_cpp (C++%ld): ok\n", static_cast<long>(__cplusplus / 100 % 100));
    return 0;
}

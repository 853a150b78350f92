/* Layout of every type of hdl.h as this compiler sees it, against Rust's layout of the same
 * types (the `testing` hooks, computed with size_of / align_of / offset_of! in Rust): size and
 * alignment of every typedef and struct, and offset and size of every field. scripts/c-tests.sh
 * builds it as C11 and as C++17, with and without -fshort-enums (defining
 * HDL_TEST_SHORT_ENUMS for the latter, so the test can tell that the flag took effect): every
 * type of the header has a fixed width, so no compiler flag may change the answers. */
#include "common.h"

#ifdef __cplusplus
#define ALIGNOF(t) alignof(t)
#else
#define ALIGNOF(t) _Alignof(t)
#endif

static int failures, types_checked, fields_checked;
static const char *current_struct;
static size_t current_fields;

static void same(const char *what, const char *type_name, const char *field, size_t c,
                 size_t rust) {
    if (c == rust) return;
    fprintf(stderr, "%s(%s%s%s): C says %zu, Rust says %zu%s\n", what, type_name,
            field ? ", " : "", field ? field : "", c, rust,
            rust == SIZE_MAX ? " (SIZE_MAX: Rust does not know the name)" : "");
    failures++;
}

static void check_type(const char *type_name, size_t size, size_t align) {
    same("sizeof", type_name, NULL, size, hdl_testing_sizeof(type_name));
    same("alignof", type_name, NULL, align, hdl_testing_alignof(type_name));
    types_checked++;
}

/* A struct: its size and alignment, then FIELD for each of its fields, then END_STRUCT. */
static void begin_struct(const char *type_name, size_t size, size_t align) {
    check_type(type_name, size, align);
    current_struct = type_name;
    current_fields = 0;
}

static void check_field(const char *type_name, const char *field, size_t offset, size_t size) {
    CHECK(current_struct != NULL && strcmp(type_name, current_struct) == 0);
    same("offsetof", type_name, field, offset, hdl_testing_offsetof(type_name, field));
    same("sizeof field", type_name, field, size, hdl_testing_field_sizeof(type_name, field));
    current_fields++;
    fields_checked++;
}

static void end_struct(void) {
    /* Every Rust field is checked here (a field only Rust has would go unnoticed otherwise). */
    same("field count", current_struct, NULL, current_fields,
         hdl_testing_field_count(current_struct));
    current_struct = NULL;
}

#define TYPE(t) check_type(#t, sizeof(t), ALIGNOF(t))
#define STRUCT(t) begin_struct(#t, sizeof(t), ALIGNOF(t))
#define FIELD(t, f) check_field(#t, #f, offsetof(t, f), sizeof(((t *)0)->f))
#define END_STRUCT() end_struct()

enum probe { PROBE_ONLY };

int main(void) {
    /* The build's enum flags are what they claim to be. */
#ifdef HDL_TEST_SHORT_ENUMS
    CHECK(sizeof(enum probe) == 1);
#else
    CHECK(sizeof(enum probe) == sizeof(int));
#endif
    CHECK(hdl_testing_sizeof("no_such_type") == SIZE_MAX);
    CHECK(hdl_testing_offsetof("hdl_diagnosis", "no_such_field") == SIZE_MAX);

    TYPE(hdl_status);
    TYPE(hdl_end_reason);
    TYPE(hdl_callback_fn);
    TYPE(hdl_destructor);
    TYPE(hdl_leak_visitor);

    STRUCT(hdl_registry_stats);
    FIELD(hdl_registry_stats, size);
    FIELD(hdl_registry_stats, live);
    FIELD(hdl_registry_stats, pending_drops);
    FIELD(hdl_registry_stats, slots);
    FIELD(hdl_registry_stats, pages);
    FIELD(hdl_registry_stats, exhausted_slots);
    FIELD(hdl_registry_stats, bytes);
    FIELD(hdl_registry_stats, thread_records);
    FIELD(hdl_registry_stats, threads_active);
    FIELD(hdl_registry_stats, failed_invalid);
    FIELD(hdl_registry_stats, failed_wrong_table);
    FIELD(hdl_registry_stats, failed_busy);
    FIELD(hdl_registry_stats, failed_stale_released);
    FIELD(hdl_registry_stats, failed_stale_revoked);
    FIELD(hdl_registry_stats, failed_stale_taken);
    FIELD(hdl_registry_stats, failed_stale_unknown);
    FIELD(hdl_registry_stats, heavy_barriers);
    FIELD(hdl_registry_stats, drop_panics);
    END_STRUCT();

    STRUCT(hdl_leak_entry);
    FIELD(hdl_leak_entry, handle);
    FIELD(hdl_leak_entry, type_tag);
    FIELD(hdl_leak_entry, refs);
    FIELD(hdl_leak_entry, revoked);
    FIELD(hdl_leak_entry, object);
    FIELD(hdl_leak_entry, rust_type);
    FIELD(hdl_leak_entry, created_at);
    END_STRUCT();

    STRUCT(hdl_diagnosis);
    FIELD(hdl_diagnosis, status);
    FIELD(hdl_diagnosis, end);
    FIELD(hdl_diagnosis, refs);
    FIELD(hdl_diagnosis, type_tag);
    END_STRUCT();

    if (failures > 0) {
        fprintf(stderr, "test_layout: %d mismatch(es) between this compiler and Rust\n",
                failures);
        return 1;
    }
#ifdef __cplusplus
    const char *lang = "C++";
#else
    const char *lang = "C";
#endif
    printf("test_layout (%s, %s enums): %d types, %d fields as in Rust; sizeof(hdl_status) %zu, "
           "sizeof(hdl_diagnosis) %zu\n",
           lang, sizeof(enum probe) == 1 ? "short" : "int-sized", types_checked, fields_checked,
           sizeof(hdl_status), sizeof(hdl_diagnosis));
    return 0;
}

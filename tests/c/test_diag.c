/* Diagnostics of the C API: hdl_stats, hdl_diagnose, hdl_diagnose_text, hdl_leak_report, and the
 * leak report at exit (HANDLES_LEAK_REPORT=1, checked in a child process).
 *   test_diag          run the tests
 *   test_diag child    (used by the tests) leak one entry and exit
 * HANDLES_TEST_RUNNER, if set, is put before the child's command (an emulator, such as
 * "qemu-aarch64 -L /usr/aarch64-linux-gnu", for a cross-compiled run). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <inttypes.h>

static int object_a, object_b, object_c, leaked_object;
static int destructor_runs;

static void count_destructor(void *object) {
    (void)object;
    destructor_runs++;
}

static uint64_t insert(void *object, uint32_t tag) {
    uint64_t h = 0;
    CHECK_STATUS(hdl_insert(object, tag, count_destructor, &h), HDL_STATUS_OK);
    return h;
}

static hdl_diagnosis diagnose(uint64_t h) {
    hdl_diagnosis d;
    memset(&d, 0xAB, sizeof d);
    CHECK_STATUS(hdl_diagnose(h, &d), HDL_STATUS_OK);
    return d;
}

static void test_diagnose(void) {
    CHECK_STATUS(hdl_diagnose(1, NULL), HDL_STATUS_NULL_POINTER);

    uint64_t released = insert(&object_a, 11);
    uint64_t revoked = insert(&object_b, 12);
    uint64_t taken = insert(&object_c, 13);

    hdl_diagnosis d = diagnose(revoked);
    CHECK(d.status == HDL_STATUS_OK && d.end == HDL_END_REASON_NONE);
    CHECK(d.refs == 1 && d.type_tag == 12);

    CHECK_STATUS(hdl_retain(revoked), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(revoked), HDL_STATUS_OK);
    d = diagnose(revoked); /* revoked, one reference still out */
    CHECK(d.status == HDL_STATUS_STALE && d.end == HDL_END_REASON_REVOKED && d.refs == 1);
    CHECK(d.type_tag == 0);
    CHECK_STATUS(hdl_release(revoked), HDL_STATUS_OK); /* ends it: still "revoked" */
    CHECK_STATUS(hdl_release(released), HDL_STATUS_OK);
    void *back = NULL;
    CHECK_STATUS(hdl_take(taken, 13, &back), HDL_STATUS_OK);
    CHECK(back == &object_c);

    d = diagnose(released);
    CHECK(d.status == HDL_STATUS_STALE && d.end == HDL_END_REASON_RELEASED && d.refs == 0);
    d = diagnose(revoked);
    CHECK(d.status == HDL_STATUS_STALE && d.end == HDL_END_REASON_REVOKED && d.refs == 0);
    d = diagnose(taken);
    CHECK(d.status == HDL_STATUS_STALE && d.end == HDL_END_REASON_TAKEN);

    /* The reason survives the reclamation pass (slots are free, not yet reused). */
    flush_all();
    CHECK(diagnose(released).end == HDL_END_REASON_RELEASED);
    CHECK(diagnose(revoked).end == HDL_END_REASON_REVOKED);

    /* Other kinds of handle. */
    d = diagnose(0);
    CHECK(d.status == HDL_STATUS_NULL_HANDLE && d.end == HDL_END_REASON_NONE);
    d = diagnose(0xFFFFFFFFFFFFFFFFull);
    CHECK(d.status != HDL_STATUS_OK && d.status != HDL_STATUS_STALE);
    CHECK(d.end == HDL_END_REASON_NONE);
    uint64_t foreign = hdl_testing_static_insert(5);
    d = diagnose(foreign);
    CHECK(d.status == HDL_STATUS_WRONG_TABLE && d.end == HDL_END_REASON_NONE);
    CHECK(hdl_testing_static_remove(foreign));

    /* Text, snprintf-style. */
    char buf[256];
    size_t n = hdl_diagnose_text(revoked, buf, sizeof buf);
    CHECK(n == strlen(buf) && strstr(buf, "stale: revoked") != NULL);
    char hex[32];
    snprintf(hex, sizeof hex, "0x%016" PRIx64, revoked);
    CHECK(strstr(buf, hex) != NULL);
    CHECK(hdl_diagnose_text(revoked, NULL, 0) == n);
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(hdl_diagnose_text(revoked, small, sizeof small) == n);
    CHECK(small[7] == '\0' && strncmp(small, buf, 7) == 0);
    n = hdl_diagnose_text(released, buf, sizeof buf);
    CHECK(strstr(buf, "stale: released") != NULL && n == strlen(buf));
    hdl_diagnose_text(0, buf, sizeof buf);
    CHECK(strstr(buf, "null handle") != NULL);
}

static void test_stats(void) {
    CHECK_STATUS(hdl_stats(NULL), HDL_STATUS_NULL_POINTER);
    hdl_registry_stats unset;
    memset(&unset, 0, sizeof unset);
    CHECK_STATUS(hdl_stats(&unset), HDL_STATUS_INVALID_ARGUMENT); /* size not set */
    CHECK(unset.size == 0 && unset.thread_records == 0);
    flush_all();
    hdl_registry_stats before = {.size = sizeof before};
    CHECK_STATUS(hdl_stats(&before), HDL_STATUS_OK);
    CHECK(before.size == sizeof before);
    uint64_t h[10];
    for (int i = 0; i < 10; i++) h[i] = insert(&object_a, 1);
    hdl_registry_stats s = {.size = sizeof s};
    CHECK_STATUS(hdl_stats(&s), HDL_STATUS_OK);
    CHECK(s.live == before.live + 10);
    size_t sum = 0, slots = 0, live = 0, shard_slots = 0;
    CHECK(hdl_shard_count() == 64);
    for (size_t i = 0; i < hdl_shard_count(); i++) {
        CHECK_STATUS(hdl_shard_stats(i, &live, &shard_slots), HDL_STATUS_OK);
        sum += live;
        slots += shard_slots;
    }
    CHECK(sum == s.live && slots == s.slots);
    CHECK_STATUS(hdl_shard_stats(hdl_shard_count(), &live, &shard_slots),
                 HDL_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hdl_shard_stats(0, NULL, &shard_slots), HDL_STATUS_NULL_POINTER);
    CHECK(s.pages >= 1 && s.slots >= s.live && s.bytes > 0);
    CHECK(s.thread_records >= 1 && s.threads_active >= 1);

    /* Failed checks by reason: this program is single-threaded, so the deltas are exact. */
    CHECK_STATUS(hdl_release(h[0]), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(h[1]), HDL_STATUS_OK);
    void *out = NULL;
    CHECK_STATUS(hdl_lookup(h[0], 0, &out), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_retain(h[0]), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_lookup(h[1], 0, &out), HDL_STATUS_STALE);
    CHECK_STATUS(hdl_retain(h[1] ^ (1ull << 63)), HDL_STATUS_INVALID); /* generation never issued */
    uint64_t foreign = hdl_testing_static_insert(6);
    CHECK_STATUS(hdl_retain(foreign), HDL_STATUS_WRONG_TABLE);
    CHECK(hdl_testing_static_remove(foreign));
    hdl_registry_stats after = {.size = sizeof after};
    CHECK_STATUS(hdl_stats(&after), HDL_STATUS_OK);
    CHECK(after.failed_stale_released - s.failed_stale_released == 2);
    CHECK(after.failed_stale_revoked - s.failed_stale_revoked == 1);
    CHECK(after.failed_invalid - s.failed_invalid == 1);
    CHECK(after.failed_wrong_table - s.failed_wrong_table == 1);
    CHECK(after.failed_busy == s.failed_busy && after.failed_stale_taken == s.failed_stale_taken);
    CHECK(after.live == s.live - 2);

    /* hdl_diagnose counts nothing. */
    diagnose(h[0]);
    CHECK_STATUS(hdl_stats(&s), HDL_STATUS_OK);
    CHECK(s.failed_stale_released == after.failed_stale_released);

    for (int i = 2; i < 10; i++) CHECK_STATUS(hdl_release(h[i]), HDL_STATUS_OK);
    flush_all();
}

struct seen {
    size_t count;
    uint64_t handles[8];
    uint32_t tags[8];
    uint32_t refs[8];
    bool revoked[8];
    bool rust[8];
};

static void visit(const hdl_leak_entry *e, void *ctx) {
    struct seen *s = ctx;
    CHECK(s->count < 8);
    s->handles[s->count] = e->handle;
    s->tags[s->count] = e->type_tag;
    s->refs[s->count] = e->refs;
    s->revoked[s->count] = e->revoked;
    s->rust[s->count] = e->rust_type != NULL;
    if (e->rust_type) CHECK(strstr(e->rust_type, "TestObject") != NULL);
    if (!e->rust_type) CHECK(e->object == &object_a || e->object == &object_b);
    s->count++;
    /* The visitor may call back into the registry. */
    CHECK(hdl_is_live(e->handle) == !e->revoked);
}

static void test_leak_report(void) {
    flush_all();
    CHECK(hdl_live_count() == 0);
    CHECK_STATUS(hdl_leak_report(NULL, NULL, NULL), HDL_STATUS_NULL_POINTER);
    struct seen s = {0};
    size_t count = 99;
    CHECK_STATUS(hdl_leak_report(visit, &s, &count), HDL_STATUS_OK);
    CHECK(count == 0 && s.count == 0);

    uint64_t a = insert(&object_a, 21);
    uint64_t b = insert(&object_b, 22);
    CHECK_STATUS(hdl_retain(b), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(b), HDL_STATUS_OK); /* revoked, still referenced: still a leak */
    uint64_t r = 0;
    CHECK_STATUS(hdl_testing_insert_rust(23, 42, false, &r), HDL_STATUS_OK);
    uint64_t gone = insert(&object_a, 24);
    CHECK_STATUS(hdl_release(gone), HDL_STATUS_OK);

    CHECK_STATUS(hdl_leak_report(visit, &s, &count), HDL_STATUS_OK);
    CHECK(count == 3 && s.count == 3);
    int found = 0;
    for (size_t i = 0; i < s.count; i++) {
        if (s.handles[i] == a) {
            found |= 1;
            CHECK(s.tags[i] == 21 && s.refs[i] == 1 && !s.revoked[i] && !s.rust[i]);
        }
        if (s.handles[i] == b) {
            found |= 2;
            CHECK(s.tags[i] == 22 && s.refs[i] == 1 && s.revoked[i]);
        }
        if (s.handles[i] == r) {
            found |= 4;
            CHECK(s.tags[i] == 23 && s.rust[i]);
        }
    }
    CHECK(found == 7);
    CHECK_STATUS(hdl_leak_report(visit, &(struct seen){0}, NULL), HDL_STATUS_OK);

    /* The text report lists them too (to stderr). */
    CHECK_STATUS(hdl_leak_report_stderr(&count), HDL_STATUS_OK);
    CHECK(count == 3);

    CHECK_STATUS(hdl_release(a), HDL_STATUS_OK);
    CHECK_STATUS(hdl_release(b), HDL_STATUS_OK);
    CHECK_STATUS(hdl_revoke(r), HDL_STATUS_OK);
    flush_all();
    CHECK_STATUS(hdl_leak_report(visit, &(struct seen){0}, &count), HDL_STATUS_OK);
    CHECK(count == 0);
}

/* HANDLES_LEAK_REPORT=1: a child that leaks one entry prints it to stderr at exit. */
static void test_report_at_exit(const char *self) {
    char cmd[4096];
    const char *runner = getenv("HANDLES_TEST_RUNNER");
    if (runner == NULL) runner = "";
    snprintf(cmd, sizeof cmd, "HANDLES_LEAK_REPORT=1 %s '%s' child 2>&1", runner, self);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK(pclose(p) == 0);
    char handle_line[64] = {0};
    CHECK(sscanf(out, "leaked %63s", handle_line) == 1);
    char *report = strstr(out, "hdl: 1 live handle(s) in the registry");
    CHECK(report != NULL);
    CHECK(strstr(report, handle_line) != NULL);
    CHECK(strstr(report, "tag=77 refs=1 (C object)") != NULL);

    /* Without the variable: no report. */
    snprintf(cmd, sizeof cmd, "HANDLES_LEAK_REPORT= %s '%s' child 2>&1", runner, self);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK(pclose(p) == 0);
    CHECK(strstr(out, "leaked 0x") != NULL && strstr(out, "live handle") == NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        uint64_t h = 0;
        CHECK_STATUS(hdl_insert(&leaked_object, 77, NULL, &h), HDL_STATUS_OK);
        printf("leaked 0x%016" PRIx64 "\n", h);
        fflush(stdout);
        return 0; /* the at-exit report lists h */
    }
    test_diagnose();
    test_stats();
    test_leak_report();
    test_report_at_exit(argv[0]);
    printf("test_diag: ok\n");
    return 0;
}

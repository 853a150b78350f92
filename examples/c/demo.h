/* demo.h: what the demo's Rust library (demo/src/main.rs) exports to its C program
 * (examples/c/demo.c). Statuses are hdl_status values from hdl.h. */
#ifndef HANDLES_DEMO_H
#define HANDLES_DEMO_H

#include "hdl.h"

#define DEMO_READING_SIZE 32

/* A Rust "sensor" object held by C through a handle (a typed Rust HandleTable). */
uint64_t sensor_new(uint32_t id);                 /* 0 if the table is full */
hdl_status sensor_read(uint64_t sensor, uint8_t out[DEMO_READING_SIZE]); /* NULL out: NULL_POINTER */
hdl_status sensor_free(uint64_t sensor);          /* revoke: later reads are STALE */

/* The same object and work, held the two classic ways, for comparison. */
const void *sensor_raw_new(uint32_t id);          /* Arc::into_raw: unchecked */
void sensor_raw_read(const void *sensor, uint8_t out[DEMO_READING_SIZE]);
void sensor_raw_free(const void *sensor);
uint64_t sensor_map_new(uint32_t id);             /* the "big old map": 64 x RwLock<HashMap> */
hdl_status sensor_map_read(uint64_t id, uint8_t out[DEMO_READING_SIZE]);
void sensor_map_free(uint64_t id);

/* A Rust closure registered as a callback: C calls fn(user_data, sensor); it returns the
 * sensor's id, or -1 when it cannot run (its handle stale, or the sensor gone). */
typedef int32_t (*demo_reading_fn)(void *user_data, uint64_t sensor);

struct demo_config {
    int threads;                 /* C threads for the timed runs and the pool */
    long calls;                  /* calls per design (all threads together) */
    demo_reading_fn on_reading;  /* the Rust callback's trampoline ... */
    void *on_reading_data;       /* ... its user_data (a handle) ... */
    void (*on_reading_destroy)(void *user_data); /* ... and its destroy-notify */
};

/* The C program: returns 0 when every check passed. */
int demo_main(const struct demo_config *config);

#endif

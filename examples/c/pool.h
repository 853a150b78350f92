/* pool.h: a small fixed-size C thread pool that runs callbacks with user_data, the kind of C
 * library the handles callback registry is made for. Tasks are plain (function, user_data)
 * pairs; the pool never looks inside user_data. Any thread may submit, including pool workers
 * from inside a task. */
#ifndef HANDLES_EXAMPLE_POOL_H
#define HANDLES_EXAMPLE_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pool pool;
typedef void (*pool_task)(void *user_data);

/* Starts `threads` workers (>= 1). Returns NULL on failure. */
pool *pool_new(int threads);
/* Queues task(user_data). Returns 0, or -1 if out of memory or the pool is shutting down. */
int pool_submit(pool *p, pool_task task, void *user_data);
/* Waits until every queued task (including tasks submitted by tasks) has run. */
void pool_wait(pool *p);
/* Number of tasks run so far. */
size_t pool_completed(pool *p);
/* Runs the remaining tasks, stops the workers and frees the pool. */
void pool_free(pool *p);

#ifdef __cplusplus
}
#endif

#endif

/* pool.c: see pool.h. One mutex-protected FIFO, one condition variable for workers and one for
 * waiters; simple on purpose (the handles lookups the tasks do are what is being shown). */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
    pool_task task;
    void *user_data;
    struct job *next;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* signalled when a job is queued or on shutdown */
    pthread_cond_t idle;  /* signalled when the last pending job completes */
    struct job *head, *tail;
    size_t pending;       /* queued + running */
    size_t completed;
    int stopping;
    int threads;
    pthread_t *workers;
};

static void *worker(void *arg) {
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == NULL && !p->stopping) pthread_cond_wait(&p->work, &p->lock);
        struct job *j = p->head;
        if (j == NULL) break; /* stopping and drained */
        p->head = j->next;
        if (p->head == NULL) p->tail = NULL;
        pthread_mutex_unlock(&p->lock);

        j->task(j->user_data); /* user code runs outside the lock */
        free(j);

        pthread_mutex_lock(&p->lock);
        p->completed++;
        if (--p->pending == 0) pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

pool *pool_new(int threads) {
    if (threads < 1) return NULL;
    pool *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->workers = calloc((size_t)threads, sizeof *p->workers);
    if (p->workers == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->workers[i], NULL, worker, p) != 0) {
            p->threads = i;
            pool_free(p);
            return NULL;
        }
        p->threads = i + 1;
    }
    return p;
}

int pool_submit(pool *p, pool_task task, void *user_data) {
    struct job *j = malloc(sizeof *j);
    if (j == NULL) return -1;
    j->task = task;
    j->user_data = user_data;
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        free(j);
        return -1;
    }
    if (p->tail) p->tail->next = j; else p->head = j;
    p->tail = j;
    p->pending++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void pool_wait(pool *p) {
    pthread_mutex_lock(&p->lock);
    while (p->pending != 0) pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

size_t pool_completed(pool *p) {
    pthread_mutex_lock(&p->lock);
    size_t n = p->completed;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void pool_free(pool *p) {
    pool_wait(p);
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->threads; i++) pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
}

/*
 * Copyright (C) nginx-faas developers
 *
 * The thread pool (see pool.h).  One mutex guards the queues; the main
 * loop is woken through a non-blocking pipe, one byte per batch (a full
 * pipe already means "look").
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"


struct faas_pool_s {
    pthread_mutex_t      lock;
    pthread_cond_t       work;
    faas_pool_task_t    *queue_head;
    faas_pool_task_t    *queue_tail;
    faas_pool_task_t    *done_head;
    faas_pool_task_t    *done_tail;
    pthread_t           *threads;
    int                  nthreads;
    int                  max_threads;
    int                  idle;
    volatile int         stopping;
    int                  pipe[2];
};


static void *
faas_pool_thread(void *data)
{
    char               byte;
    faas_pool_t       *pool;
    faas_pool_task_t  *task;

    /*
     * Signals are not blocked here: a runtime that forks from this thread
     * would hand the mask down to the replica, deaf to SIGTERM.  The
     * controller's handlers only write to a pipe, and interrupted calls
     * are restarted or retried.
     */

    pool = data;

    pthread_mutex_lock(&pool->lock);

    for ( ;; ) {
        while (pool->queue_head == NULL && !pool->stopping) {
            pool->idle++;
            pthread_cond_wait(&pool->work, &pool->lock);
            pool->idle--;
        }

        if (pool->stopping) {
            break;
        }

        task = pool->queue_head;
        pool->queue_head = task->next;

        if (pool->queue_head == NULL) {
            pool->queue_tail = NULL;
        }

        pthread_mutex_unlock(&pool->lock);

        task->run(task);

        pthread_mutex_lock(&pool->lock);

        task->next = NULL;

        if (pool->done_tail) {
            pool->done_tail->next = task;

        } else {
            pool->done_head = task;
        }

        pool->done_tail = task;

        byte = 1;

        if (write(pool->pipe[1], &byte, 1) < 0 && errno != EAGAIN) {
            /* cannot happen with a live pipe; the loop's tick still
             * collects the task */
        }
    }

    pthread_mutex_unlock(&pool->lock);

    return NULL;
}


faas_pool_t *
faas_pool_new(int max_threads, char *err, size_t errlen)
{
    faas_pool_t  *pool;

    pool = calloc(1, sizeof(faas_pool_t));

    if (pool == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    pool->threads = calloc((size_t) max_threads, sizeof(pthread_t));

    if (pool->threads == NULL || pipe2(pool->pipe, O_NONBLOCK | O_CLOEXEC)) {
        snprintf(err, errlen, "thread pool: %s", strerror(errno));
        free(pool->threads);
        free(pool);
        return NULL;
    }

    pool->max_threads = max_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);

    return pool;
}


void
faas_pool_submit(faas_pool_t *pool, faas_pool_task_t *task)
{
    task->next = NULL;
    task->pool = pool;
    task->cancel = 0;

    pthread_mutex_lock(&pool->lock);

    if (pool->queue_tail) {
        pool->queue_tail->next = task;

    } else {
        pool->queue_head = task;
    }

    pool->queue_tail = task;

    /* a new thread only when none is waiting: tasks that block for long
     * (a start probing for readiness) must not queue behind each other */

    if (pool->idle == 0 && pool->nthreads < pool->max_threads
        && pthread_create(&pool->threads[pool->nthreads], NULL,
                          faas_pool_thread, pool) == 0)
    {
        pool->nthreads++;
    }

    pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
}


int
faas_pool_fd(faas_pool_t *pool)
{
    return pool->pipe[0];
}


faas_pool_task_t *
faas_pool_done(faas_pool_t *pool)
{
    char               buf[256];
    faas_pool_task_t  *done;

    while (read(pool->pipe[0], buf, sizeof(buf)) > 0) {
        /* drained: new completions write again */
    }

    pthread_mutex_lock(&pool->lock);

    done = pool->done_head;
    pool->done_head = NULL;
    pool->done_tail = NULL;

    pthread_mutex_unlock(&pool->lock);

    return done;
}


int
faas_pool_cancelled(faas_pool_task_t *task)
{
    return task->pool->stopping || task->cancel;
}


void
faas_pool_destroy(faas_pool_t *pool)
{
    int  i;

    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);

    for (i = 0; i < pool->nthreads; i++) {
        pthread_join(pool->threads[i], NULL);
    }

    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work);
    close(pool->pipe[0]);
    close(pool->pipe[1]);
    free(pool->threads);
    free(pool);
}

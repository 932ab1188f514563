/*
 * Copyright (C) nginx-faas developers
 *
 * A thread pool for the slow calls (runtime start and stop, probes), so
 * that a slow start of one revision never delays another.  Tasks are
 * handed back to the main loop when done: it polls faas_pool_fd() and then
 * takes the finished tasks with faas_pool_done().  Threads are created on
 * demand, up to a limit, and live until faas_pool_destroy().
 */

#ifndef FAAS_POOL_H
#define FAAS_POOL_H


typedef struct faas_pool_s       faas_pool_t;
typedef struct faas_pool_task_s  faas_pool_task_t;

struct faas_pool_task_s {
    /* run on a pool thread; must check faas_pool_cancelled() while waiting */
    void               (*run)(faas_pool_task_t *task);
    faas_pool_task_t    *next;          /* the pool's, while queued or done */
    faas_pool_t         *pool;          /* set by faas_pool_submit() */
    volatile int         cancel;        /* set by the owner: stop early */
};


faas_pool_t *faas_pool_new(int max_threads, char *err, size_t errlen);

/*
 * Queues a task.  The caller keeps ownership of the memory, which it must
 * not touch (but for setting cancel) until the task comes back from
 * faas_pool_done().
 */
void faas_pool_submit(faas_pool_t *pool, faas_pool_task_t *task);

/* Readable when finished tasks are waiting. */
int faas_pool_fd(faas_pool_t *pool);

/* The finished tasks, linked by next, oldest first; NULL when none. */
faas_pool_task_t *faas_pool_done(faas_pool_t *pool);

/* 1 when the task's owner or the pool's shutdown asks it to stop early. */
int faas_pool_cancelled(faas_pool_task_t *task);

/*
 * Cancels every task, waits for the running ones to return and joins the
 * threads.  Tasks never run or never collected are left to their owners,
 * who free them afterwards.
 */
void faas_pool_destroy(faas_pool_t *pool);


#endif /* FAAS_POOL_H */

/*
 * Copyright (C) nginx-faas developers
 *
 * Replica lifecycle (see replica.h).  Transitions happen on the main
 * thread only; a replica has at most one job on the pool at a time, and
 * is never freed while it has one (a job that must end early is
 * cancelled, and the replica moves on when it comes back).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "drain.h"
#include "log.h"
#include "probe.h"
#include "replica.h"
#include "store.h"


#define FAAS_INSPECT_INTERVAL_MS  50
#define FAAS_DRAIN_REPORTS_MAX    256


static void faas_replica_submit(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_job_kind_t kind);
static void faas_replica_stop(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_replica_state_t state);


faas_replica_t *
faas_replica_find(faas_ctl_t *ctl, const char *id)
{
    faas_replica_t  *rp;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if (strcmp(rp->id, id) == 0) {
            return rp;
        }
    }

    return NULL;
}


faas_plan_kind_t
faas_replica_plan_kind(const faas_replica_t *rp)
{
    if (rp->removing) {
        return FAAS_PLAN_LEAVING;
    }

    switch (rp->state) {

    case FAAS_REPLICA_STARTING:
        return FAAS_PLAN_STARTING;

    case FAAS_REPLICA_ADOPTING:
        return FAAS_PLAN_ADOPTING;

    case FAAS_REPLICA_READY:
        return FAAS_PLAN_READY;

    case FAAS_REPLICA_RESTARTING:
    case FAAS_REPLICA_BACKOFF:
        return FAAS_PLAN_BACKOFF;

    default:
        return FAAS_PLAN_LEAVING;
    }
}


/* ---- on pool threads: jobs see only their own copies ---- */


static void
faas_job_sleep_ms(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* the rest of it */
    }
}


/*
 * Probes every few milliseconds until the replica answers (ok), ends
 * (exited, with its reason), the timeout passes, or the job is
 * cancelled.  Whether it still runs is asked less often than it is
 * probed: the runtime's inspect may be an API call.
 */

static void
faas_job_await_ready(faas_job_t *job)
{
    int                  left;
    char                 why[FAAS_REASON_MAX];
    long long            now, started, deadline, inspected;
    faas_replica_info_t  info;

    now = faas_probe_clock_ms();
    started = now;
    deadline = now + job->timeout_ms;
    inspected = now;
    strcpy(why, "no answer");

    for ( ;; ) {
        if (faas_pool_cancelled(&job->task)) {
            snprintf(job->error, sizeof(job->error), "cancelled");
            return;
        }

        left = (int) (deadline - now);

        if (faas_probe(job->address, job->health,
                       left < FAAS_PROBE_TIMEOUT_MS ? (left > 0 ? left : 1)
                                                    : FAAS_PROBE_TIMEOUT_MS,
                       why, sizeof(why)) == 0)
        {
            job->ok = 1;
            return;
        }

        now = faas_probe_clock_ms();

        if (now - inspected >= FAAS_INSPECT_INTERVAL_MS) {
            inspected = now;
            memset(&info, 0, sizeof(info));

            if (job->runtime->inspect(job->runtime, job->handle, &info,
                                      why, sizeof(why)) == 0
                && !info.running)
            {
                job->exited = 1;
                snprintf(job->error, sizeof(job->error), "%s",
                         info.exit_reason[0] ? info.exit_reason : "exited");
                return;
            }
        }

        if (now >= deadline) {
            snprintf(job->error, sizeof(job->error),
                     "not ready within %d ms (%.200s)", job->timeout_ms,
                     why);
            return;
        }

        /* most functions are up within milliseconds: each one waited
         * here is a millisecond more for the request that woke it */

        faas_job_sleep_ms(now - started < FAAS_PROBE_FAST_FOR_MS
                          ? FAAS_PROBE_FAST_INTERVAL_MS
                          : FAAS_PROBE_INTERVAL_MS);
        now = faas_probe_clock_ms();
    }
}


static void
faas_job_liveness(faas_job_t *job)
{
    faas_replica_info_t  info;

    memset(&info, 0, sizeof(info));

    if (job->runtime->inspect(job->runtime, job->handle, &info, job->error,
                              sizeof(job->error)) == 0
        && !info.running)
    {
        job->exited = 1;
        snprintf(job->error, sizeof(job->error), "%s",
                 info.exit_reason[0] ? info.exit_reason : "exited");
        return;
    }

    job->ok = (faas_probe(job->address, job->health, FAAS_PROBE_TIMEOUT_MS,
                          job->error, sizeof(job->error)) == 0);
}


static void
faas_job_run(faas_pool_task_t *task)
{
    faas_job_t      *job;
    faas_runtime_t  *rt;

    job = (faas_job_t *) task;
    rt = job->runtime;

    switch (job->kind) {

    case FAAS_JOB_START:
        if (rt->start(rt, &job->spec, job->handle, sizeof(job->handle),
                      job->error, sizeof(job->error)) != 0)
        {
            return;
        }

        job->started = 1;
        faas_job_await_ready(job);
        return;

    case FAAS_JOB_ADOPT:
        job->started = 1;
        faas_job_await_ready(job);
        return;

    case FAAS_JOB_LIVENESS:
        faas_job_liveness(job);
        return;

    case FAAS_JOB_STOP:
        job->ok = (rt->stop(rt, job->handle, job->grace_ms, job->error,
                            sizeof(job->error)) == 0);
        return;
    }
}


/* ---- on the main thread ---- */


static void
faas_job_free(faas_job_t *job)
{
    size_t  i;

    for (i = 0; job->env && job->env[i]; i++) {
        free(job->env[i]);
    }

    free(job->env);
    free(job->exec);
    free(job->image);
    free(job);
}


static char *
faas_replica_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}


/* the start inputs, copied: the spec may be replaced while the job runs */

static int
faas_replica_start_inputs(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_job_t *job)
{
    size_t                       i, n;
    const faas_spec_t           *fs;
    const faas_spec_revision_t  *sr;

    fs = &rp->revision->fn->spec;
    sr = rp->revision->spec;

    for (n = 0; fs->env[n]; n++) {
        /* count */
    }

    job->env = calloc(n + 1, sizeof(char *));
    job->exec = faas_replica_strdup(sr->exec);
    job->image = faas_replica_strdup(sr->image);

    if (job->env == NULL || (sr->exec && job->exec == NULL)
        || (sr->image && job->image == NULL))
    {
        return -1;
    }

    for (i = 0; i < n; i++) {
        job->env[i] = strdup(fs->env[i]);

        if (job->env[i] == NULL) {
            return -1;
        }
    }

    snprintf(job->log_path, sizeof(job->log_path), "%s/%s.log",
             ctl->cfg->log_dir, rp->id);

    job->spec.function = job->function;
    job->spec.revision = job->revision;
    job->spec.replica_id = job->replica_id;
    job->spec.exec = job->exec;
    job->spec.image = job->image;
    job->spec.env = (const char *const *) job->env;
    job->spec.port = rp->port;
    job->spec.log_path = job->log_path;

    return 0;
}


static void
faas_replica_submit(faas_ctl_t *ctl, faas_replica_t *rp, faas_job_kind_t kind)
{
    faas_job_t       *job;
    faas_revision_t  *rev;

    rev = rp->revision;

    job = calloc(1, sizeof(faas_job_t));

    if (job == NULL
        || (kind == FAAS_JOB_START
            && faas_replica_start_inputs(ctl, rp, job) != 0))
    {
        /* tried again at the next tick */
        faas_log_error("out of memory for a job of replica %s", rp->id);

        if (job) {
            faas_job_free(job);
        }

        rp->retry_at_ms = faas_now_ms() + FAAS_STOP_RETRY_MS;
        return;
    }

    job->task.run = faas_job_run;
    job->kind = kind;
    job->replica = rp;
    job->runtime = ctl->runtime;
    job->timeout_ms = ctl->cfg->start_timeout_ms;
    job->grace_ms = ctl->cfg->stop_grace_ms;

    strcpy(job->function, rev->function);
    strcpy(job->revision, rev->revision);
    strcpy(job->replica_id, rp->id);
    strcpy(job->address, rp->address);
    strcpy(job->handle, rp->handle);

    if (rev->fn) {
        strcpy(job->health, rev->fn->spec.health);
    }

    rp->job = job;

    faas_pool_submit(ctl->pool, &job->task);
}


static void
faas_replica_take_port(faas_replica_t *rp, int port)
{
    rp->port = port;
    rp->port_taken = 1;
    snprintf(rp->address, sizeof(rp->address), "127.0.0.1:%d", port);
}


static void
faas_replica_release_port(faas_ctl_t *ctl, faas_replica_t *rp)
{
    if (rp->port_taken) {
        faas_ports_release(&ctl->ports, rp->port);
        rp->port_taken = 0;
    }
}


/* starts the replica's process or container on a fresh port */

static int
faas_replica_launch(faas_ctl_t *ctl, faas_replica_t *rp)
{
    int               port;
    faas_revision_t  *rev;

    rev = rp->revision;
    port = faas_ports_take(&ctl->ports);

    if (port == -1) {
        snprintf(rev->reason, sizeof(rev->reason), "no free port in %d-%d",
                 ctl->cfg->port_lo, ctl->cfg->port_hi);
        faas_log_error("replica %s of %s/%s: %s", rp->id, rev->function,
                       rev->revision, rev->reason);
        return -1;
    }

    faas_replica_take_port(rp, port);

    /* a restart runs the spec of now */
    rp->fingerprint = rev->fingerprint;

    rp->state = FAAS_REPLICA_STARTING;
    rp->started_ms = faas_now_ms();
    rp->ready_ms = 0;
    rp->handle[0] = '\0';
    rp->record_dirty = 1;

    faas_log_info("starting replica %s of %s/%s on %s", rp->id,
                  rev->function, rev->revision, rp->address);

    faas_replica_submit(ctl, rp, FAAS_JOB_START);

    return 0;
}


int
faas_replica_start(faas_ctl_t *ctl, faas_revision_t *rev)
{
    uint32_t         nonce;
    faas_replica_t  *rp;

    rp = calloc(1, sizeof(faas_replica_t));

    if (rp == NULL) {
        faas_log_error("out of memory for a replica of %s/%s", rev->function,
                       rev->revision);
        return -1;
    }

    rp->revision = rev;

    do {
        if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce)) {
            nonce = (uint32_t) (faas_now_ms() * 2654435761u) ^ (uint32_t) rand();
        }

        faas_spec_replica_id(rp->id, rev->function, rev->revision, nonce);

    } while (faas_replica_find(ctl, rp->id));

    if (faas_replica_launch(ctl, rp) != 0) {
        free(rp);
        return -1;
    }

    rp->next = ctl->replicas;
    ctl->replicas = rp;

    return 0;
}


static void
faas_replica_forget(faas_ctl_t *ctl, faas_replica_t *rp)
{
    faas_replica_t  **pp;

    faas_store_delete_replica(ctl, rp);
    faas_replica_release_port(ctl, rp);

    for (pp = &ctl->replicas; *pp; pp = &(*pp)->next) {
        if (*pp == rp) {
            *pp = rp->next;
            break;
        }
    }

    free(rp);

    ctl->reconcile = 1;
}


/* unpublishes; 0 when Redis has it no more */

static int
faas_replica_unpublish(faas_ctl_t *ctl, faas_replica_t *rp)
{
    rp->published = 0;

    if (!faas_redis_connected(ctl->redis)) {
        return -1;
    }

    return faas_store_unpublish(ctl, rp->revision->function,
                                rp->revision->revision, rp->id);
}


static void
faas_replica_publish(faas_ctl_t *ctl, faas_replica_t *rp)
{
    if (faas_redis_connected(ctl->redis) && faas_store_publish(ctl, rp) == 0)
    {
        rp->published = 1;
    }
}


static void
faas_replica_stop(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_replica_state_t state)
{
    rp->state = state;
    rp->retry_at_ms = 0;
    rp->record_dirty = 1;

    if (rp->job == NULL) {
        faas_replica_submit(ctl, rp, FAAS_JOB_STOP);
    }

    /* else the job in flight comes back first and the tick submits it */
}


static void
faas_replica_drain(faas_ctl_t *ctl, faas_replica_t *rp)
{
    faas_revision_t  *rev;

    rev = rp->revision;

    rp->state = FAAS_REPLICA_DRAINING;
    rp->removing = 1;
    rp->unpublished_ms = 0;
    rp->record_dirty = 1;

    if (faas_replica_unpublish(ctl, rp) == 0) {
        rp->unpublished_ms = faas_now_ms();
    }

    faas_log_info("draining replica %s of %s/%s", rp->id, rev->function,
                  rev->revision);
}


/*
 * A replica that ended, never became ready, or stopped answering: out of
 * the endpoints at once, then started again after the backoff (the stop
 * job first clears what the runtime still holds of it).
 */

static void
faas_replica_fail(faas_ctl_t *ctl, faas_replica_t *rp, const char *reason,
    int started)
{
    faas_revision_t  *rev;

    rev = rp->revision;

    if (rp->state == FAAS_REPLICA_READY) {
        (void) faas_replica_unpublish(ctl, rp);
    }

    rp->failures++;
    rp->start_error = !started;
    snprintf(rp->last_exit, sizeof(rp->last_exit), "%s", reason);
    snprintf(rev->reason, sizeof(rev->reason), "%s", reason);
    rp->record_dirty = 1;
    ctl->reconcile = 1;

    if (started) {
        faas_log_warn("replica %s of %s/%s failed: %s", rp->id,
                      rev->function, rev->revision, reason);
        faas_replica_stop(ctl, rp, FAAS_REPLICA_RESTARTING);
        return;
    }

    faas_log_error("replica %s of %s/%s cannot start: %s", rp->id,
                   rev->function, rev->revision, reason);

    faas_replica_release_port(ctl, rp);
    rp->state = FAAS_REPLICA_BACKOFF;
    rp->retry_at_ms = faas_now_ms()
                      + faas_backoff_ms(rp->failures - 1,
                                        FAAS_RESTART_BASE_MS,
                                        FAAS_RESTART_CAP_MS);
}


static void
faas_replica_ready(faas_ctl_t *ctl, faas_replica_t *rp)
{
    long long         now;
    faas_revision_t  *rev;

    rev = rp->revision;
    now = faas_now_ms();

    rp->state = FAAS_REPLICA_READY;
    rp->ready_ms = now;
    rev->ready_at_ms = now;
    rp->start_error = 0;
    rp->probe_failures = 0;
    rp->probe_at_ms = now + FAAS_LIVENESS_INTERVAL_MS;
    rp->record_dirty = 1;
    ctl->reconcile = 1;

    faas_replica_publish(ctl, rp);

    faas_log_info("replica %s of %s/%s ready on %s after %lld ms%s", rp->id,
                  rev->function, rev->revision, rp->address,
                  now - rp->started_ms,
                  rp->published ? "" : " (published when Redis is back)");
}


void
faas_replica_found(faas_ctl_t *ctl, const faas_replica_info_t *info)
{
    faas_replica_t   *rp;
    faas_revision_t  *rev;

    if (!faas_spec_valid_label(info->function, strlen(info->function))
        || !faas_spec_valid_label(info->revision, strlen(info->revision))
        || !faas_spec_valid_replica_id(info->replica_id))
    {
        faas_log_warn("runtime lists a replica with bad names (handle %s): "
                      "left alone", info->handle);
        return;
    }

    rev = faas_revision_get(ctl, info->function, info->revision);
    rp = calloc(1, sizeof(faas_replica_t));

    if (rev == NULL || rp == NULL) {
        free(rp);
        faas_log_error("out of memory for replica %s", info->replica_id);
        return;
    }

    rp->revision = rev;
    strcpy(rp->id, info->replica_id);
    strcpy(rp->handle, info->handle);
    strcpy(rp->address, info->address);
    rp->port = info->port;
    rp->started_ms = faas_now_ms();
    rp->record_dirty = 1;

    if (faas_replica_find(ctl, rp->id) || !info->running) {
        faas_log_info("clearing replica %s of %s/%s: %s", rp->id,
                      rev->function, rev->revision,
                      info->running ? "a duplicate id"
                      : info->exit_reason[0] ? info->exit_reason : "ended");

        rp->removing = 1;
        rp->next = ctl->replicas;
        ctl->replicas = rp;
        faas_replica_stop(ctl, rp, FAAS_REPLICA_STOPPING);
        return;
    }

    faas_ports_mark(&ctl->ports, rp->port);
    rp->port_taken = 1;
    rp->state = FAAS_REPLICA_ADOPTING;
    rp->next = ctl->replicas;
    ctl->replicas = rp;

    faas_log_info("found replica %s of %s/%s on %s", rp->id, rev->function,
                  rev->revision, rp->address);
}


void
faas_replica_adopt_pending(faas_ctl_t *ctl)
{
    faas_replica_t  *rp;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if (rp->state == FAAS_REPLICA_ADOPTING && rp->job == NULL
            && !rp->removing && rp->revision->spec)
        {
            /* what it runs cannot be known: taken as the spec of now */
            rp->fingerprint = rp->revision->fingerprint;
            faas_replica_submit(ctl, rp, FAAS_JOB_ADOPT);
        }
    }
}


void
faas_replica_remove(faas_ctl_t *ctl, faas_replica_t *rp)
{
    if (rp->removing) {
        return;
    }

    rp->removing = 1;
    rp->record_dirty = 1;

    switch (rp->state) {

    case FAAS_REPLICA_BACKOFF:
        faas_log_info("replica %s of %s/%s removed while waiting to restart",
                      rp->id, rp->revision->function, rp->revision->revision);
        faas_replica_forget(ctl, rp);
        return;

    case FAAS_REPLICA_STARTING:
    case FAAS_REPLICA_ADOPTING:
        if (rp->job) {
            rp->job->task.cancel = 1;
            return;
        }

        /* an adopted replica not probed yet may be published */
        faas_replica_drain(ctl, rp);
        return;

    case FAAS_REPLICA_READY:
        faas_replica_drain(ctl, rp);
        return;

    default:
        /* restarting: forgotten once stopped; draining, stopping: going */
        return;
    }
}


static void
faas_replica_started_done(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_job_t *job)
{
    faas_revision_t  *rev;

    rev = rp->revision;

    if (job->started) {
        strcpy(rp->handle, job->handle);
    }

    if (rp->removing) {
        if (job->kind == FAAS_JOB_ADOPT) {
            faas_replica_drain(ctl, rp);

        } else if (job->started) {
            faas_replica_stop(ctl, rp, FAAS_REPLICA_STOPPING);

        } else {
            faas_replica_forget(ctl, rp);
        }

        return;
    }

    if (job->ok) {
        faas_replica_ready(ctl, rp);
        return;
    }

    if (job->kind == FAAS_JOB_ADOPT) {
        faas_log_warn("replica %s of %s/%s found at start-up is not healthy "
                      "(%s): removed", rp->id, rev->function, rev->revision,
                      job->error);
        rp->removing = 1;
        (void) faas_replica_unpublish(ctl, rp);
        faas_replica_stop(ctl, rp, FAAS_REPLICA_STOPPING);
        return;
    }

    faas_replica_fail(ctl, rp, job->error, job->started);
}


static void
faas_replica_liveness_done(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_job_t *job)
{
    char  reason[FAAS_REASON_MAX + 32];

    rp->probe_at_ms = faas_now_ms() + FAAS_LIVENESS_INTERVAL_MS;

    if (rp->state == FAAS_REPLICA_DRAINING && job->exited) {
        faas_log_info("replica %s ended while draining: %s", rp->id,
                      job->error);
        faas_replica_stop(ctl, rp, FAAS_REPLICA_STOPPING);
        return;
    }

    if (rp->state != FAAS_REPLICA_READY) {
        return;
    }

    if (job->exited) {
        faas_replica_fail(ctl, rp, job->error, 1);
        return;
    }

    if (job->ok) {
        rp->probe_failures = 0;
        return;
    }

    if (++rp->probe_failures < FAAS_LIVENESS_FAILURES) {
        faas_log_debug("replica %s: liveness probe failed: %s", rp->id,
                       job->error);
        return;
    }

    snprintf(reason, sizeof(reason), "stopped answering (%s)", job->error);
    reason[FAAS_REASON_MAX - 1] = '\0';

    faas_replica_fail(ctl, rp, reason, 1);
}


static void
faas_replica_stop_done(faas_ctl_t *ctl, faas_replica_t *rp, faas_job_t *job)
{
    faas_revision_t  *rev;

    rev = rp->revision;

    if (!job->ok) {
        faas_log_error("cannot stop replica %s of %s/%s: %s; trying again",
                       rp->id, rev->function, rev->revision, job->error);
        rp->retry_at_ms = faas_now_ms() + FAAS_STOP_RETRY_MS;
        return;
    }

    faas_replica_release_port(ctl, rp);

    if (rp->state == FAAS_REPLICA_RESTARTING && !rp->removing) {
        rp->state = FAAS_REPLICA_BACKOFF;
        rp->retry_at_ms = faas_now_ms()
                          + faas_backoff_ms(rp->failures - 1,
                                            FAAS_RESTART_BASE_MS,
                                            FAAS_RESTART_CAP_MS);
        rp->record_dirty = 1;
        ctl->reconcile = 1;

        faas_log_info("replica %s of %s/%s restarts in %lld ms", rp->id,
                      rev->function, rev->revision,
                      rp->retry_at_ms - faas_now_ms());
        return;
    }

    faas_log_info("replica %s of %s/%s stopped", rp->id, rev->function,
                  rev->revision);

    faas_replica_forget(ctl, rp);
}


void
faas_replica_job_done(faas_ctl_t *ctl, faas_job_t *job)
{
    faas_replica_t  *rp;

    rp = job->replica;
    rp->job = NULL;

    switch (job->kind) {

    case FAAS_JOB_START:
    case FAAS_JOB_ADOPT:
        faas_replica_started_done(ctl, rp, job);
        break;

    case FAAS_JOB_LIVENESS:
        faas_replica_liveness_done(ctl, rp, job);
        break;

    case FAAS_JOB_STOP:
        faas_replica_stop_done(ctl, rp, job);
        break;
    }

    faas_job_free(job);
}


/* every nginx saw the replica idle since its unpublish, or time is up */

static void
faas_replica_check_drain(faas_ctl_t *ctl, faas_replica_t *rp, long long now)
{
    size_t                n;
    faas_drain_verdict_t  verdict;
    faas_drain_report_t   reports[FAAS_DRAIN_REPORTS_MAX];

    if (faas_store_read_drain(ctl, rp, reports, FAAS_DRAIN_REPORTS_MAX, &n)
        != 0)
    {
        /* metrics unreadable: wait, but no longer than the timeout */
        memset(reports, 0, sizeof(faas_drain_report_t));
        reports[0].reported = 1;
        n = 1;
    }

    verdict = faas_drain_decide(reports, n, rp->unpublished_ms, now,
                                ctl->cfg->drain_timeout_ms);

    if (verdict == FAAS_DRAIN_WAIT) {
        return;
    }

    if (verdict == FAAS_DRAIN_TIMEOUT) {
        faas_log_warn("replica %s of %s/%s still busy after the drain "
                      "timeout (%d ms): stopping it", rp->id,
                      rp->revision->function, rp->revision->revision,
                      ctl->cfg->drain_timeout_ms);

    } else {
        faas_log_info("replica %s of %s/%s drained in %lld ms", rp->id,
                      rp->revision->function, rp->revision->revision,
                      now - rp->unpublished_ms);
    }

    faas_replica_stop(ctl, rp, FAAS_REPLICA_STOPPING);
}


void
faas_replica_tick(faas_ctl_t *ctl, long long now)
{
    int              connected, check_drains;
    faas_replica_t  *rp, *next;

    connected = faas_redis_connected(ctl->redis);
    check_drains = (now >= ctl->drain_at_ms);

    if (check_drains) {
        ctl->drain_at_ms = now + FAAS_DRAIN_POLL_MS;
    }

    for (rp = ctl->replicas; rp; rp = next) {
        next = rp->next;

        if (rp->job) {
            continue;
        }

        switch (rp->state) {

        case FAAS_REPLICA_BACKOFF:
            if (!rp->removing && now >= rp->retry_at_ms) {
                rp->restarts++;

                if (faas_replica_launch(ctl, rp) != 0) {
                    rp->retry_at_ms = now + FAAS_RESTART_CAP_MS;
                }
            }

            break;

        case FAAS_REPLICA_READY:
            if (!rp->published && connected) {
                faas_replica_publish(ctl, rp);
            }

            if (rp->failures && now - rp->ready_ms >= FAAS_RESTART_RESET_MS) {
                rp->failures = 0;
            }

            if (now >= rp->probe_at_ms) {
                faas_replica_submit(ctl, rp, FAAS_JOB_LIVENESS);
            }

            break;

        case FAAS_REPLICA_DRAINING:
            if (rp->unpublished_ms == 0) {
                if (connected && faas_replica_unpublish(ctl, rp) == 0) {
                    rp->unpublished_ms = now;
                }

            } else if (check_drains && connected) {
                faas_replica_check_drain(ctl, rp, now);
            }

            if (rp->state == FAAS_REPLICA_DRAINING && rp->job == NULL
                && now >= rp->probe_at_ms)
            {
                faas_replica_submit(ctl, rp, FAAS_JOB_LIVENESS);
            }

            break;

        case FAAS_REPLICA_RESTARTING:
        case FAAS_REPLICA_STOPPING:
            if (now >= rp->retry_at_ms) {
                faas_replica_submit(ctl, rp, FAAS_JOB_STOP);
            }

            break;

        default:
            break;
        }
    }
}


void
faas_replica_probe_soon(faas_ctl_t *ctl)
{
    faas_replica_t  *rp;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        rp->probe_at_ms = 0;
    }
}


void
faas_replica_free_all(faas_ctl_t *ctl)
{
    faas_replica_t  *rp, *next;

    for (rp = ctl->replicas; rp; rp = next) {
        next = rp->next;

        if (rp->job) {
            faas_job_free(rp->job);
        }

        free(rp);
    }

    ctl->replicas = NULL;
}

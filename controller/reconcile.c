/*
 * Copyright (C) nginx-faas developers
 *
 * The reconcile loop's steps (see reconcile.h).  What nginx declares is
 * read from Redis on a timer and on every message; the plan is computed
 * from scratch whenever something changed, so nothing depends on seeing
 * every message.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscale.h"
#include "desired.h"
#include "log.h"
#include "reconcile.h"
#include "replica.h"
#include "store.h"


#define FAAS_START_RETRY_MS   5000
#define FAAS_WAKE_FORGET_MS   60000   /* wakes of unknown revisions */


faas_revision_t *
faas_revision_find(faas_ctl_t *ctl, const char *function,
    const char *revision)
{
    faas_revision_t  *rev;

    for (rev = ctl->revisions; rev; rev = rev->next) {
        if (strcmp(rev->function, function) == 0
            && strcmp(rev->revision, revision) == 0)
        {
            return rev;
        }
    }

    return NULL;
}


faas_revision_t *
faas_revision_get(faas_ctl_t *ctl, const char *function,
    const char *revision)
{
    faas_revision_t  *rev;

    rev = faas_revision_find(ctl, function, revision);

    if (rev) {
        return rev;
    }

    rev = calloc(1, sizeof(faas_revision_t));

    if (rev == NULL) {
        return NULL;
    }

    snprintf(rev->function, sizeof(rev->function), "%s", function);
    snprintf(rev->revision, sizeof(rev->revision), "%s", revision);
    rev->requested = -1;

    rev->next = ctl->revisions;
    ctl->revisions = rev;

    return rev;
}


static faas_function_t *
faas_reconcile_function(faas_ctl_t *ctl, const char *name)
{
    faas_function_t  *fn;

    for (fn = ctl->functions; fn; fn = fn->next) {
        if (strcmp(fn->spec.name, name) == 0) {
            return fn;
        }
    }

    return NULL;
}


static unsigned long
faas_reconcile_hash(const char *s, size_t len)
{
    size_t         i;
    unsigned long  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }

    return h | 1;
}


/*
 * One field of the specs hash.  A spec that does not parse is logged
 * (once per distinct text) and ignored: a function that ran before keeps
 * its last good spec, one that did not stays without revisions.
 */

static void
faas_reconcile_spec(faas_ctl_t *ctl, const redisReply *name,
    const redisReply *value)
{
    char              err[FAAS_REASON_MAX];
    faas_spec_t       spec;
    unsigned long     hash;
    faas_function_t  *fn;

    if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING
        || !faas_spec_valid_label(name->str, name->len))
    {
        return;
    }

    fn = faas_reconcile_function(ctl, name->str);

    if (fn == NULL) {
        fn = calloc(1, sizeof(faas_function_t));

        if (fn == NULL) {
            return;
        }

        strcpy(fn->spec.name, name->str);
        fn->next = ctl->functions;
        ctl->functions = fn;
    }

    fn->seen = 1;

    if (faas_spec_parse(name->str, value->str, value->len, &spec, err,
                        sizeof(err)) != 0)
    {
        hash = faas_reconcile_hash(value->str, value->len);

        if (fn->bad_hash != hash) {
            fn->bad_hash = hash;
            faas_log_error("spec of function \"%s\" in %s skipped: %s",
                           name->str, ctl->key_specs, err);
        }

        return;
    }

    fn->bad_hash = 0;

    if (fn->spec.nrevisions && faas_spec_equal(&fn->spec, &spec)) {
        faas_spec_free(&spec);
        return;
    }

    faas_log_info("function %s %s: %zu revision%s", spec.name,
                  fn->spec.nrevisions ? "changed" : "declared",
                  spec.nrevisions, spec.nrevisions == 1 ? "" : "s");

    faas_spec_free(&fn->spec);
    fn->spec = spec;
    ctl->reconcile = 1;
}


/* what this runtime needs from a revision, or NULL when it has it */

static const char *
faas_reconcile_cannot_run(faas_ctl_t *ctl, const faas_spec_revision_t *sr)
{
    if (strcmp(ctl->cfg->runtime, "docker") == 0) {
        return sr->image ? NULL
                         : "no image= (the docker runtime runs images)";
    }

    return sr->exec ? NULL : "no exec= (the process runtime runs commands)";
}


/*
 * What a replica runs: exec, image and env.  A replica started from
 * another fingerprint is replaced (the health path and the numbers need
 * no new process).
 */

static unsigned long
faas_reconcile_fingerprint(const faas_spec_t *fs,
    const faas_spec_revision_t *sr)
{
    size_t         i;
    unsigned long  h;

    h = faas_reconcile_hash(sr->exec ? sr->exec : "", sr->exec
                                                      ? strlen(sr->exec) + 1
                                                      : 0);
    h ^= faas_reconcile_hash(sr->image ? sr->image : "", sr->image
                                                         ? strlen(sr->image)
                                                           + 1 : 0) * 31;

    for (i = 0; fs->env[i]; i++) {
        h = h * 1000003 ^ faas_reconcile_hash(fs->env[i],
                                              strlen(fs->env[i]) + 1);
    }

    return h | 1;
}


/* points every revision record at its spec, NULL when not declared */

static void
faas_reconcile_link_revisions(faas_ctl_t *ctl)
{
    size_t            i;
    faas_function_t  *fn;
    faas_revision_t  *rev;

    for (rev = ctl->revisions; rev; rev = rev->next) {
        rev->fn = NULL;
        rev->spec = NULL;
    }

    for (fn = ctl->functions; fn; fn = fn->next) {
        for (i = 0; i < fn->spec.nrevisions; i++) {
            rev = faas_revision_get(ctl, fn->spec.name,
                                    fn->spec.revisions[i].name);

            if (rev == NULL) {
                faas_log_error("out of memory for revision %s/%s",
                               fn->spec.name, fn->spec.revisions[i].name);
                continue;
            }

            rev->fn = fn;
            rev->spec = &fn->spec.revisions[i];
            rev->cannot_run = faas_reconcile_cannot_run(ctl, rev->spec);
            rev->fingerprint = faas_reconcile_fingerprint(&fn->spec,
                                                          rev->spec);
        }
    }
}


static void
faas_reconcile_read_specs(faas_ctl_t *ctl)
{
    int                rc;
    char               err[FAAS_REASON_MAX];
    size_t             i;
    redisReply        *specs;
    faas_function_t   *fn, **fp;

    rc = faas_store_read_specs(ctl, &specs, err, sizeof(err));

    if (rc <= 0) {
        if (!ctl->schema_logged && faas_redis_connected(ctl->redis)) {
            ctl->schema_logged = 1;

            if (rc == 0) {
                faas_log_info("no functions published in %s yet: waiting "
                              "for nginx", ctl->key_specs);
            } else {
                faas_log_error("%s; keeping the functions known", err);
            }
        }

        return;
    }

    ctl->schema_logged = 0;

    for (fn = ctl->functions; fn; fn = fn->next) {
        fn->seen = 0;
    }

    for (i = 0; i + 1 < specs->elements; i += 2) {
        faas_reconcile_spec(ctl, specs->element[i], specs->element[i + 1]);
    }

    freeReplyObject(specs);

    for (fp = &ctl->functions; *fp; /* void */ ) {
        fn = *fp;

        if (fn->seen) {
            fp = &fn->next;
            continue;
        }

        faas_log_info("function %s is no longer declared: its replicas go",
                      fn->spec.name);

        *fp = fn->next;
        faas_spec_free(&fn->spec);
        free(fn);
        ctl->reconcile = 1;
    }

    faas_reconcile_link_revisions(ctl);

    if (!ctl->specs_known) {
        ctl->specs_known = 1;
        ctl->reconcile = 1;
    }
}


void
faas_reconcile_specs_soon(faas_ctl_t *ctl)
{
    ctl->specs_at_ms = 0;
}


int
faas_revision_counted(faas_ctl_t *ctl, faas_revision_t *rev, int *ready)
{
    int              counted;
    faas_replica_t  *rp;

    counted = 0;
    *ready = 0;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if (rp->revision == rev
            && faas_replica_plan_kind(rp) != FAAS_PLAN_LEAVING)
        {
            counted++;
            *ready += (rp->state == FAAS_REPLICA_READY);
        }
    }

    return counted;
}


/*
 * A wake for a revision with no replica running or starting takes it to
 * one at once, whoever owned its count (a request is waiting); while one
 * exists, more wakes change nothing.
 */

static void
faas_reconcile_wake(faas_ctl_t *ctl, faas_revision_t *rev)
{
    int  ready;

    if (faas_revision_counted(ctl, rev, &ready) > 0 || rev->cannot_run) {
        return;
    }

    faas_log_info("wake for %s/%s: starting a replica", rev->function,
                  rev->revision);

    if (rev->requested < 1) {
        rev->requested = 1;
    }

    rev->requested_demand = 1;
    faas_autoscale_woken(ctl, rev, faas_now_ms());

    ctl->reconcile = 1;
    faas_reconcile_apply(ctl);
}


void
faas_reconcile_wake_message(faas_ctl_t *ctl, const char *message, size_t len)
{
    char              function[FAAS_NAME_MAX + 1];
    char              revision[FAAS_NAME_MAX + 1];
    faas_revision_t  *rev;

    if (faas_spec_split_names(message, len, ' ', function, revision) != 0) {
        faas_log_warn("ignored wake message \"%.*s\": expected \"FN REV\"",
                      (int) (len > 128 ? 128 : len), message);
        return;
    }

    rev = faas_revision_find(ctl, function, revision);

    if (rev == NULL || rev->spec == NULL) {
        faas_log_debug("wake for %s/%s, which is not declared", function,
                       revision);
        return;
    }

    faas_reconcile_wake(ctl, rev);
}


/*
 * "FN REV" on the desired channel: someone wrote the revision's desired
 * hash and wants it applied now rather than at the next poll.
 */

void
faas_reconcile_desired_message(faas_ctl_t *ctl, const char *message,
    size_t len)
{
    char              function[FAAS_NAME_MAX + 1];
    char              revision[FAAS_NAME_MAX + 1];
    faas_revision_t  *rev;

    if (faas_spec_split_names(message, len, ' ', function, revision) != 0) {
        faas_log_warn("ignored desired message \"%.*s\": expected \"FN "
                      "REV\"", (int) (len > 128 ? 128 : len), message);
        return;
    }

    rev = faas_revision_find(ctl, function, revision);

    if (rev == NULL || rev->spec == NULL) {
        faas_log_debug("desired message for %s/%s, which is not declared",
                       function, revision);
        return;
    }

    if (faas_store_read_desired_one(ctl, rev, faas_autoscale_desired) == 0) {
        faas_reconcile_apply(ctl);
    }
}


/*
 * A member of the wake set: demand recorded by nginx, also for a
 * controller that missed the message.  It counts while younger than the
 * function's queue timeout (a parked request waits that long) and is
 * removed once a replica is ready, once one became ready after it was
 * recorded (the request it stood for was served: a replica draining now
 * must not be taken for demand), or when it is too old.
 */

static void
faas_reconcile_wake_member(faas_ctl_t *ctl, const char *function,
    const char *revision, long long at_ms)
{
    int               ready;
    long long         age, fresh;
    faas_revision_t  *rev;

    rev = faas_revision_find(ctl, function, revision);
    age = faas_now_ms() - at_ms;

    if (rev == NULL || rev->spec == NULL) {
        if (age > FAAS_WAKE_FORGET_MS) {
            faas_store_remove_wake(ctl, function, revision);
        }

        return;
    }

    fresh = rev->fn->spec.queue_timeout_ms ? rev->fn->spec.queue_timeout_ms
                                           : FAAS_WAKE_DEFAULT_MS;

    (void) faas_revision_counted(ctl, rev, &ready);

    if (ready || at_ms <= rev->ready_at_ms || age > fresh) {
        faas_store_remove_wake(ctl, function, revision);
        return;
    }

    faas_reconcile_wake(ctl, rev);
}


void
faas_reconcile_poll(faas_ctl_t *ctl, long long now)
{
    if (!faas_redis_connected(ctl->redis)) {
        return;
    }

    if (now >= ctl->sweep_at_ms) {
        ctl->sweep_at_ms = now + FAAS_SWEEP_MS;
        (void) faas_store_sweep(ctl);
    }

    if (now >= ctl->specs_at_ms) {
        ctl->specs_at_ms = now + FAAS_SPECS_POLL_MS;
        faas_reconcile_read_specs(ctl);
    }

    if (now >= ctl->desired_at_ms && ctl->specs_known) {
        ctl->desired_at_ms = now + FAAS_DESIRED_POLL_MS;

        (void) faas_store_read_desired(ctl, faas_autoscale_desired);
        faas_reconcile_apply(ctl);
        (void) faas_store_read_wakes(ctl, faas_reconcile_wake_member);
    }
}


void
faas_reconcile_redis_back(faas_ctl_t *ctl)
{
    faas_replica_t   *rp;
    faas_revision_t  *rev;

    ctl->specs_at_ms = 0;
    ctl->desired_at_ms = 0;
    ctl->sweep_at_ms = 0;
    ctl->heartbeat_at_ms = 0;

    /* Redis may have been emptied: write everything again */

    for (rev = ctl->revisions; rev; rev = rev->next) {
        rev->status_written = 0;
    }

    for (rp = ctl->replicas; rp; rp = rp->next) {
        rp->record_dirty = 1;
    }

    faas_autoscale_redis_back(ctl);
}


/*
 * The planner's view: every revision record (an undeclared one desires
 * nothing, so its replicas go) and every replica.  Sets each revision's
 * desired count and index.  Returns 0, or -1 when out of memory.
 */

static int
faas_reconcile_table(faas_ctl_t *ctl, long long now,
    faas_plan_revision_t **prevs, size_t *nrevs,
    faas_plan_replica_t **preps, faas_replica_t ***rp_index, size_t *nreps)
{
    size_t                 n, i;
    faas_replica_t        *rp;
    faas_revision_t       *rev;
    faas_plan_replica_t   *reps;
    faas_plan_revision_t  *revs;
    faas_desired_input_t   in;

    n = 0;

    for (rev = ctl->revisions; rev; rev = rev->next) {
        n++;
    }

    *nrevs = n;
    revs = calloc(n + 1, sizeof(faas_plan_revision_t));

    n = 0;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        n++;
    }

    *nreps = n;
    reps = calloc(n + 1, sizeof(faas_plan_replica_t));
    *rp_index = calloc(n + 1, sizeof(faas_replica_t *));

    if (revs == NULL || reps == NULL || *rp_index == NULL) {
        free(revs);
        free(reps);
        free(*rp_index);
        return -1;
    }

    i = 0;

    for (rev = ctl->revisions; rev; rev = rev->next) {
        rev->index = i;
        rev->desired = 0;

        if (rev->spec) {
            in.scale_min = rev->fn->spec.scale_min;
            in.scale_max = rev->fn->spec.scale_max;
            in.weight_pct = rev->spec->weight_pct;
            in.requested = rev->requested;
            in.demand = rev->requested_demand;

            rev->desired = faas_desired_count(&in);
        }

        revs[i].desired = rev->desired;
        revs[i].may_start = rev->spec && rev->cannot_run == NULL
                            && now >= rev->start_at_ms;
        i++;
    }

    i = 0;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        reps[i].revision = rp->revision->index;
        reps[i].kind = faas_replica_plan_kind(rp);
        reps[i].start_error = rp->start_error;
        reps[i].started_ms = rp->started_ms;
        reps[i].outdated = rp->revision->spec
                           && rp->fingerprint != rp->revision->fingerprint;
        (*rp_index)[i] = rp;
        i++;
    }

    *prevs = revs;
    *preps = reps;

    return 0;
}


void
faas_reconcile_apply(faas_ctl_t *ctl)
{
    size_t                 i, n, nrevs, nreps;
    long long              now;
    faas_replica_t       **rp_index;
    faas_revision_t      **rev_index, *rev;
    faas_plan_action_t    *actions;
    faas_plan_replica_t   *reps;
    faas_plan_revision_t  *revs;

    if (!ctl->specs_known) {
        return;
    }

    now = faas_now_ms();

    faas_replica_adopt_pending(ctl);

    if (faas_reconcile_table(ctl, now, &revs, &nrevs, &reps, &rp_index,
                             &nreps) != 0)
    {
        return;
    }

    n = faas_plan_compute(revs, nrevs, reps, nreps, NULL, 0);

    actions = calloc(n + 1, sizeof(faas_plan_action_t));
    rev_index = calloc(nrevs + 1, sizeof(faas_revision_t *));

    if (actions == NULL || rev_index == NULL) {
        goto done;
    }

    for (rev = ctl->revisions; rev; rev = rev->next) {
        rev_index[rev->index] = rev;
    }

    n = faas_plan_compute(revs, nrevs, reps, nreps, actions, n);

    for (i = 0; i < n; i++) {
        if (actions[i].verb == FAAS_PLAN_REMOVE) {
            faas_replica_remove(ctl, rp_index[actions[i].replica]);
            continue;
        }

        rev = rev_index[actions[i].revision];

        if (now >= rev->start_at_ms && faas_replica_start(ctl, rev) != 0) {
            rev->start_at_ms = now + FAAS_START_RETRY_MS;
        }
    }

    ctl->reconcile = 0;

done:

    free(actions);
    free(rev_index);
    free(revs);
    free(reps);
    free(rp_index);
}


static int
faas_reconcile_has_replicas(faas_ctl_t *ctl, faas_revision_t *rev)
{
    faas_replica_t  *rp;

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if (rp->revision == rev) {
            return 1;
        }
    }

    return 0;
}


/* a revision nginx dropped whose last replica is gone: its keys go too */

static void
faas_reconcile_forget_revision(faas_ctl_t *ctl, faas_revision_t *rev)
{
    faas_revision_t  **rp;

    if (faas_redis_connected(ctl->redis)) {
        freeReplyObject(faas_redis_command(ctl->redis,
                                           "DEL %sstatus:%s:%s "
                                           "%sreplicas:%s:%s",
                                           ctl->cfg->prefix, rev->function,
                                           rev->revision, ctl->cfg->prefix,
                                           rev->function, rev->revision));
    }

    for (rp = &ctl->revisions; *rp; rp = &(*rp)->next) {
        if (*rp == rev) {
            *rp = rev->next;
            break;
        }
    }

    faas_autoscale_free(rev);
    free(rev);
}


void
faas_reconcile_report(faas_ctl_t *ctl)
{
    size_t                 nrevs, nreps;
    faas_replica_t       **rp_index, *rp;
    faas_revision_t       *rev, *next;
    faas_plan_replica_t   *reps;
    faas_plan_revision_t  *revs;
    faas_plan_summary_t    summary;

    if (!faas_redis_connected(ctl->redis)
        || faas_reconcile_table(ctl, faas_now_ms(), &revs, &nrevs, &reps,
                                &rp_index, &nreps) != 0)
    {
        return;
    }

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if (rp->record_dirty) {
            faas_store_write_replica(ctl, rp);
        }
    }

    for (rev = ctl->revisions; rev; rev = next) {
        next = rev->next;

        faas_plan_summarize(&revs[rev->index], rev->index, reps, nreps,
                            &summary);

        if (rev->spec == NULL && !faas_reconcile_has_replicas(ctl, rev)) {
            if (ctl->specs_known) {
                faas_reconcile_forget_revision(ctl, rev);
            }

            continue;
        }

        if (rev->cannot_run && rev->desired > 0) {
            snprintf(rev->reason, sizeof(rev->reason), "%s", rev->cannot_run);
        }

        faas_store_write_status(ctl, rev, &summary, 0);
    }

    free(revs);
    free(reps);
    free(rp_index);
}


void
faas_reconcile_free(faas_ctl_t *ctl)
{
    faas_function_t  *fn, *fnext;
    faas_revision_t  *rev, *rnext;

    for (fn = ctl->functions; fn; fn = fnext) {
        fnext = fn->next;
        faas_spec_free(&fn->spec);
        free(fn);
    }

    for (rev = ctl->revisions; rev; rev = rnext) {
        rnext = rev->next;
        faas_autoscale_free(rev);
        free(rev);
    }

    ctl->functions = NULL;
    ctl->revisions = NULL;
}

/*
 * Copyright (C) nginx-faas developers
 *
 * The scaler's decision tick and who owns a revision's desired count (see
 * autoscale.h).  The policy itself is the pure library in scaler/; the
 * metrics rules are in metrics.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscale.h"
#include "log.h"


/* the policy of a revision: its function's spec and the controller's flags */

static faas_scaler_policy_t
faas_autoscale_policy(const faas_config_t *cfg, const faas_spec_t *spec)
{
    faas_scaler_policy_t  p;

    p = faas_scaler_policy_defaults();

    p.min = spec->scale_min;
    p.max = spec->scale_max;
    p.target = spec->scale_target;
    p.concurrency = spec->concurrency;
    p.idle_ms = spec->scale_idle_ms > 0 ? spec->scale_idle_ms
                                        : FAAS_SCALER_IDLE_MS;

    p.utilization_pct = cfg->utilization_pct;
    p.stable_window_ms = cfg->stable_window_ms;
    p.panic_window_ms = cfg->panic_window_ms;
    p.stale_ms = cfg->metrics_stale_ms;
    p.panic_threshold = cfg->panic_threshold_pct / 100.0;
    p.max_scale_up_rate = cfg->max_scale_up_rate;
    p.max_scale_down_rate = cfg->max_scale_down_rate;

    return p;
}


/*
 * The revision's sample of this tick, from the instances read (have: they
 * could be read at all).  reports and snaps have room for n.
 */

static faas_scaler_sample_t
faas_autoscale_sample(faas_ctl_t *ctl, faas_revision_t *rev, int have,
    const faas_store_instance_t *instances, size_t n,
    faas_metrics_report_t *reports, faas_scaler_snapshot_t *snaps,
    long long now)
{
    char                   field[2 * FAAS_NAME_MAX + 2];
    size_t                 i, j, len, nsnaps, nbad;
    redisReply            *f, *v;
    faas_scaler_sample_t   sample;

    memset(&sample, 0, sizeof(sample));
    sample.at_ms = now;
    sample.complete = 0;

    /* an incomplete sample does not say that the last request moved */
    sample.last_request_ms = rev->scaler.has_latest
                             ? rev->scaler.latest.last_request_ms : 0;

    if (!have) {
        return sample;
    }

    len = (size_t) snprintf(field, sizeof(field), "%s:%s", rev->function,
                            rev->revision);

    for (i = 0; i < n; i++) {
        reports[i].instance = instances[i].instance;
        reports[i].flushed_ms = instances[i].flushed_ms;
        reports[i].json = NULL;
        reports[i].json_len = 0;

        for (j = 0; j + 1 < instances[i].fields->elements; j += 2) {
            f = instances[i].fields->element[j];
            v = instances[i].fields->element[j + 1];

            if (f->type == REDIS_REPLY_STRING && f->len == len
                && memcmp(f->str, field, len) == 0
                && v->type == REDIS_REPLY_STRING)
            {
                reports[i].json = v->str;
                reports[i].json_len = v->len;
                break;
            }
        }
    }

    if (faas_metrics_collect(&rev->peers, reports, n, now,
                             ctl->cfg->metrics_stale_ms, snaps, &nsnaps,
                             &nbad) != 0)
    {
        faas_log_error("out of memory for the metrics of %s/%s",
                       rev->function, rev->revision);
        return sample;
    }

    /* logged when it starts, not at every tick */

    if (nbad && !rev->metrics_logged) {
        faas_log_warn("%zu metrics record%s of %s/%s in %smetrics:* do not "
                      "parse: its scaling is frozen until they do", nbad,
                      nbad == 1 ? "" : "s", rev->function, rev->revision,
                      ctl->cfg->prefix);
    }

    rev->metrics_logged = (nbad != 0);

    return faas_scaler_sum(snaps, nsnaps, now, ctl->cfg->metrics_stale_ms);
}


/*
 * Writes the scaler's count and reason when Redis does not have them.
 * Returns 0 (written, or nothing to write, or Redis away: the decision
 * stands), or 1 when the hash holds a count by hand, which wins.
 */

static int
faas_autoscale_write(faas_ctl_t *ctl, faas_revision_t *rev, int replicas,
    const char *reason)
{
    int  rc;

    if (rev->desired_written && rev->written_replicas == replicas
        && strcmp(rev->written_reason, reason) == 0)
    {
        return 0;
    }

    rc = faas_store_write_desired(ctl, rev, replicas, reason, 1);

    if (rc == 1) {
        /* read it at the next turn of the loop */
        rev->desired_written = 0;
        ctl->desired_at_ms = 0;
        return 1;
    }

    if (rc == 0) {
        rev->desired_written = 1;
        rev->written_replicas = replicas;
        snprintf(rev->written_reason, sizeof(rev->written_reason), "%s",
                 reason);
    }

    return 0;
}


static void
faas_autoscale_decide(faas_ctl_t *ctl, faas_revision_t *rev, long long now)
{
    int                     ready;
    const char             *bad;
    faas_scaler_policy_t    policy;
    faas_scaler_decision_t  d;

    policy = faas_autoscale_policy(ctl->cfg, &rev->fn->spec);

    bad = faas_scaler_policy_check(&policy);

    if (bad && !rev->policy_logged) {
        faas_log_error("scaling policy of %s/%s: %s; its counts stay within "
                       "bounds", rev->function, rev->revision, bad);
    }

    rev->policy_logged = (bad != NULL);

    (void) faas_revision_counted(ctl, rev, &ready);

    d = faas_scaler_decide(&rev->scaler, &policy, now, ready, rev->desired);

    if (faas_autoscale_write(ctl, rev, (int) d.desired, d.reason) != 0) {
        /* a count by hand arrived: it is taken at the next read */
        return;
    }

    if (d.desired != rev->desired) {
        faas_log_info("scaling %s/%s from %d to %lld: %s (concurrency %.2f "
                      "over %d ms, %.2f over %d ms; target %.2f)",
                      rev->function, rev->revision, rev->desired,
                      (long long) d.desired, d.reason, d.stable_concurrency,
                      ctl->cfg->stable_window_ms, d.panic_concurrency,
                      ctl->cfg->panic_window_ms, d.target);

    } else if (strcmp(d.reason, rev->desired_reason) != 0) {
        faas_log_debug("%s/%s stays at %lld: %s", rev->function,
                       rev->revision, (long long) d.desired, d.reason);
    }

    if (!rev->decided || rev->requested != d.desired
        || !rev->requested_demand)
    {
        rev->requested = (int) d.desired;
        rev->requested_demand = 1;
        ctl->reconcile = 1;
    }

    rev->decided = 1;
    snprintf(rev->desired_reason, sizeof(rev->desired_reason), "%s",
             d.reason);
}


void
faas_autoscale_tick(faas_ctl_t *ctl, long long now)
{
    int                      have;
    size_t                   n;
    faas_revision_t         *rev;
    faas_scaler_sample_t     sample;
    faas_metrics_report_t   *reports;
    faas_scaler_snapshot_t  *snaps;
    faas_store_instance_t   *instances;

    if (!ctl->cfg->scaler || !ctl->specs_known || now < ctl->scale_at_ms) {
        return;
    }

    ctl->scale_at_ms = now + ctl->cfg->tick_ms;

    instances = NULL;
    n = 0;

    /* Redis away or answering errors: every sample of the tick is partial */

    have = faas_redis_connected(ctl->redis)
           && faas_store_read_metrics(ctl, now - ctl->cfg->instance_expiry_ms,
                                      &instances, &n) == 0;

    reports = calloc(n + 1, sizeof(faas_metrics_report_t));
    snaps = calloc(n + 1, sizeof(faas_scaler_snapshot_t));

    if (reports == NULL || snaps == NULL) {
        have = 0;
    }

    for (rev = ctl->revisions; rev; rev = rev->next) {
        if (rev->spec == NULL) {
            continue;
        }

        sample = faas_autoscale_sample(ctl, rev, have, instances, n, reports,
                                       snaps, now);

        if (faas_scaler_observe(&rev->scaler, &sample)) {
            faas_log_warn("the clock went back: the scaling history of %s/%s "
                          "starts again", rev->function, rev->revision);
        }

        if (!rev->pinned) {
            faas_autoscale_decide(ctl, rev, now);
        }
    }

    free(reports);
    free(snaps);

    if (instances) {
        faas_store_metrics_free(instances, n);
    }
}


void
faas_autoscale_woken(faas_ctl_t *ctl, faas_revision_t *rev, long long now)
{
    faas_scaler_sample_t  sample;

    rev->pinned = 0;

    if (ctl->cfg->scaler) {
        memset(&sample, 0, sizeof(sample));
        sample.at_ms = now;
        sample.parked = 1;
        sample.requests_delta = 1;
        sample.last_request_ms = rev->scaler.has_latest
                                 ? rev->scaler.latest.last_request_ms : 0;
        sample.complete = 0;

        (void) faas_scaler_observe(&rev->scaler, &sample);
        rev->decided = 1;
    }

    snprintf(rev->desired_reason, sizeof(rev->desired_reason), "wake");

    /* a request waits: the wake's count wins over one by hand */

    rev->desired_written = 0;

    if (faas_store_write_desired(ctl, rev, rev->requested, "wake", 0) == 0) {
        rev->desired_written = 1;
        rev->written_replicas = rev->requested;
        strcpy(rev->written_reason, "wake");
    }
}


void
faas_autoscale_desired(faas_ctl_t *ctl, faas_revision_t *rev,
    const faas_store_desired_t *d)
{
    int  pinned, demand, count, ready;

    pinned = d->by[0] != '\0' && strcmp(d->by, FAAS_STORE_BY_CONTROLLER) != 0;

    if (ctl->cfg->scaler && !pinned) {
        if (rev->pinned) {
            /*
             * Given back ("by" removed, or Redis lost the hash): the
             * scaler goes on from the count by hand, at its own pace.
             */

            faas_log_info("desired count of %s/%s given back to the scaler",
                          rev->function, rev->revision);
            rev->pinned = 0;
            rev->decided = 1;
            rev->requested_demand = 1;
            rev->desired_written = 0;
            ctl->reconcile = 1;
            return;
        }

        if (!rev->decided) {
            /*
             * Before this run's first decision, the count last written
             * (by a previous run, say) is where the scaler starts from;
             * with none, the replicas found at start-up: so that the
             * replicas it adopted are not stopped at once.
             */

            count = d->replicas;

            if (!d->present && faas_revision_counted(ctl, rev, &ready) > 0) {
                count = faas_revision_counted(ctl, rev, &ready);
            }

            if (count != rev->requested || !rev->requested_demand) {
                ctl->reconcile = 1;
            }

            rev->requested = count;
            rev->requested_demand = 1;
            snprintf(rev->desired_reason, sizeof(rev->desired_reason), "%s",
                     d->reason);
            return;
        }

        if (rev->desired_written && d->replicas != rev->written_replicas) {
            if (d->present) {
                faas_log_info("%sdesired:%s:%s was set to %d without \"by\": "
                              "the scaler owns the count while it is on "
                              "(set \"by\" to pin a count by hand); written "
                              "again", ctl->cfg->prefix, rev->function,
                              rev->revision, d->replicas);
            }

            rev->desired_written = 0;
        }

        return;
    }

    /* a count by hand, or any count while the scaler is off */

    if (pinned && !rev->pinned && ctl->cfg->scaler) {
        faas_log_info("desired count of %s/%s set by \"%s\" to %d: the scaler "
                      "leaves it alone until \"by\" is removed", rev->function,
                      rev->revision, d->by, d->replicas);
    }

    rev->pinned = pinned;
    demand = !pinned && strcmp(d->reason, "wake") == 0;

    if (d->replicas != rev->requested || demand != rev->requested_demand) {
        ctl->reconcile = 1;
    }

    rev->requested = d->replicas;
    rev->requested_demand = demand;

    if (pinned) {
        snprintf(rev->desired_reason, sizeof(rev->desired_reason),
                 "by %.60s%s%.180s", d->by, d->reason[0] ? ": " : "",
                 d->reason);

    } else {
        snprintf(rev->desired_reason, sizeof(rev->desired_reason), "%s",
                 d->reason);
    }
}


void
faas_autoscale_redis_back(faas_ctl_t *ctl)
{
    faas_revision_t  *rev;

    for (rev = ctl->revisions; rev; rev = rev->next) {
        rev->desired_written = 0;
    }
}


void
faas_autoscale_free(faas_revision_t *rev)
{
    faas_metrics_peers_free(&rev->peers);
}

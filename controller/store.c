/*
 * Copyright (C) nginx-faas developers
 *
 * Reads and writes of the controller's keys (see store.h).  Names in keys
 * and messages are validated labels and replica ids, so they need no
 * quoting; every value still goes to hiredis as its own argument.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "store.h"


#define FAAS_STORE_SCAN_COUNT     "500"


static const char *
faas_store_state_name(const faas_replica_t *rp)
{
    static const char  *names[] = {
        "starting", "adopting", "ready", "restarting", "backoff",
        "draining", "stopping"
    };

    return names[rp->state];
}


/* reads one reply of a pipeline; NULL (link lost) or error replies are
 * logged by the caller's context */

static int
faas_store_ok(redisReply *reply)
{
    int  ok;

    ok = (reply != NULL && reply->type != REDIS_REPLY_ERROR);

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        faas_log_error("redis: %s", reply->str);
    }

    freeReplyObject(reply);

    return ok;
}


int
faas_store_read_specs(faas_ctl_t *ctl, redisReply **specs, char *err,
    size_t errlen)
{
    redisReply  *schema, *hash;

    *specs = NULL;

    if (faas_redis_append(ctl->redis, "GET %s", ctl->key_schema) != 0
        || faas_redis_append(ctl->redis, "HGETALL %s", ctl->key_specs) != 0)
    {
        snprintf(err, errlen, "redis is not connected");
        return -1;
    }

    schema = faas_redis_reply(ctl->redis);
    hash = faas_redis_reply(ctl->redis);

    if (schema == NULL || hash == NULL) {
        freeReplyObject(schema);
        freeReplyObject(hash);
        snprintf(err, errlen, "redis is not connected");
        return -1;
    }

    if (schema->type == REDIS_REPLY_ERROR || hash->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "cannot read %s: %s", ctl->key_specs,
                 schema->type == REDIS_REPLY_ERROR ? schema->str
                 : hash->type == REDIS_REPLY_ERROR ? hash->str
                 : "not a hash");
        freeReplyObject(schema);
        freeReplyObject(hash);
        return -1;
    }

    if (schema->type == REDIS_REPLY_NIL) {
        freeReplyObject(schema);
        freeReplyObject(hash);
        return 0;
    }

    if (schema->type != REDIS_REPLY_STRING || strcmp(schema->str, "1") != 0) {
        snprintf(err, errlen, "%s is \"%.32s\", not 1: this controller does "
                 "not know that schema", ctl->key_schema,
                 schema->type == REDIS_REPLY_STRING ? schema->str : "?");
        freeReplyObject(schema);
        freeReplyObject(hash);
        return -1;
    }

    freeReplyObject(schema);
    *specs = hash;

    return 1;
}


/* one HMGET reply of a desired hash into d; 0, or -1 when not an array */

static int
faas_store_desired_reply(faas_ctl_t *ctl, faas_revision_t *rev,
    redisReply *reply, faas_store_desired_t *d)
{
    char        *end;
    long         count;
    redisReply  *e;

    memset(d, 0, sizeof(faas_store_desired_t));
    d->replicas = -1;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        return -1;
    }

    e = reply->element[0];

    if (e->type == REDIS_REPLY_STRING) {
        d->present = 1;
        count = strtol(e->str, &end, 10);

        if (*end != '\0' || end == e->str || count < 0 || count > 100000) {
            faas_log_debug("%sdesired:%s:%s: bad replicas \"%.32s\"",
                           ctl->cfg->prefix, rev->function, rev->revision,
                           e->str);

        } else {
            d->replicas = (int) count;
        }
    }

    e = reply->element[1];

    if (e->type == REDIS_REPLY_STRING) {
        d->present = 1;
        snprintf(d->reason, sizeof(d->reason), "%s", e->str);
    }

    e = reply->element[2];

    if (e->type == REDIS_REPLY_STRING) {
        d->present = 1;
        snprintf(d->by, sizeof(d->by), "%s", e->str);
    }

    return 0;
}


int
faas_store_read_desired(faas_ctl_t *ctl, faas_store_desired_pt handler)
{
    int                    n, rc;
    redisReply            *reply;
    faas_revision_t       *rev;
    faas_store_desired_t   d;

    n = 0;

    for (rev = ctl->revisions; rev; rev = rev->next) {
        if (rev->spec == NULL) {
            continue;
        }

        if (faas_redis_append(ctl->redis, "HMGET %sdesired:%s:%s replicas "
                              "reason by", ctl->cfg->prefix, rev->function,
                              rev->revision) != 0)
        {
            return -1;
        }

        n++;
    }

    rc = 0;

    /* the replies come in the order of the revisions asked for */

    for (rev = ctl->revisions; rev && n; rev = rev->next) {
        if (rev->spec == NULL) {
            continue;
        }

        n--;
        reply = faas_redis_reply(ctl->redis);

        if (reply == NULL) {
            return -1;
        }

        if (faas_store_desired_reply(ctl, rev, reply, &d) != 0) {
            rc = -1;

        } else {
            handler(ctl, rev, &d);
        }

        freeReplyObject(reply);
    }

    return rc;
}


int
faas_store_read_desired_one(faas_ctl_t *ctl, faas_revision_t *rev,
    faas_store_desired_pt handler)
{
    int                    rc;
    redisReply            *reply;
    faas_store_desired_t   d;

    reply = faas_redis_command(ctl->redis, "HMGET %sdesired:%s:%s replicas "
                               "reason by", ctl->cfg->prefix, rev->function,
                               rev->revision);

    if (reply == NULL) {
        return -1;
    }

    rc = faas_store_desired_reply(ctl, rev, reply, &d);

    if (rc == 0) {
        handler(ctl, rev, &d);
    }

    freeReplyObject(reply);

    return rc;
}


int
faas_store_write_desired(faas_ctl_t *ctl, faas_revision_t *rev,
    int replicas, const char *reason, int unless_by_hand)
{
    int          i, ok, by_hand;
    long long    now;
    redisReply  *reply, *by;

    if (!faas_redis_connected(ctl->redis)) {
        return -1;
    }

    now = faas_now_ms();

    if (!unless_by_hand) {
        return faas_store_ok(faas_redis_command(ctl->redis,
                                 "HSET %sdesired:%s:%s replicas %d reason %s "
                                 "at_ms %lld by " FAAS_STORE_BY_CONTROLLER,
                                 ctl->cfg->prefix, rev->function,
                                 rev->revision, replicas, reason, now))
               ? 0 : -1;
    }

    /*
     * Optimistic: the hash is watched, its "by" read, and the write made in
     * a transaction that Redis aborts if anyone wrote the hash meanwhile,
     * so that a count by hand is never overwritten, however close the two
     * writes come.
     */

    if (faas_redis_append(ctl->redis, "WATCH %sdesired:%s:%s",
                          ctl->cfg->prefix, rev->function, rev->revision)
        != 0
        || faas_redis_append(ctl->redis, "HMGET %sdesired:%s:%s by",
                             ctl->cfg->prefix, rev->function, rev->revision)
           != 0)
    {
        return -1;
    }

    ok = faas_store_ok(faas_redis_reply(ctl->redis));
    reply = faas_redis_reply(ctl->redis);

    if (reply == NULL) {
        return -1;
    }

    by = (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1)
         ? reply->element[0] : NULL;

    ok &= (by != NULL);
    by_hand = by && by->type == REDIS_REPLY_STRING && by->len > 0
              && strcmp(by->str, FAAS_STORE_BY_CONTROLLER) != 0;

    (void) faas_store_ok(reply);

    if (!ok || by_hand) {
        (void) faas_store_ok(faas_redis_command(ctl->redis, "UNWATCH"));
        return ok ? 1 : -1;
    }

    if (faas_redis_append(ctl->redis, "MULTI") != 0
        || faas_redis_append(ctl->redis, "HSET %sdesired:%s:%s replicas %d "
                             "reason %s at_ms %lld by "
                             FAAS_STORE_BY_CONTROLLER, ctl->cfg->prefix,
                             rev->function, rev->revision, replicas, reason,
                             now) != 0
        || faas_redis_append(ctl->redis, "EXEC") != 0)
    {
        return -1;
    }

    ok = 1;

    for (i = 0; i < 2; i++) {
        ok &= faas_store_ok(faas_redis_reply(ctl->redis));
    }

    reply = faas_redis_reply(ctl->redis);

    if (reply == NULL) {
        return -1;
    }

    /* a nil EXEC: the hash was written meanwhile (by hand, presumably) */

    i = (reply->type == REDIS_REPLY_NIL) ? 1
        : (ok && reply->type == REDIS_REPLY_ARRAY) ? 0 : -1;

    (void) faas_store_ok(reply);

    return i;
}


int
faas_store_read_metrics(faas_ctl_t *ctl, long long since_ms,
    faas_store_instance_t **instances, size_t *n)
{
    int                     failed;
    size_t                  i, count;
    redisReply             *list, *id, *score, *hash;
    faas_store_instance_t  *in;

    *instances = NULL;
    *n = 0;

    list = faas_redis_command(ctl->redis, "ZRANGEBYSCORE %s %lld +inf "
                              "WITHSCORES LIMIT 0 %d", ctl->key_instances,
                              since_ms, FAAS_STORE_INSTANCES_MAX);

    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        (void) faas_store_ok(list);
        return -1;
    }

    in = calloc(list->elements / 2 + 1, sizeof(faas_store_instance_t));

    if (in == NULL) {
        freeReplyObject(list);
        return -1;
    }

    count = 0;

    for (i = 0; i + 1 < list->elements; i += 2) {
        id = list->element[i];
        score = list->element[i + 1];

        if (id->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING
            || id->len > FAAS_METRICS_INSTANCE_MAX
            || memchr(id->str, '\0', id->len) != NULL)
        {
            continue;
        }

        if (faas_redis_append(ctl->redis, "HGETALL %smetrics:%b",
                              ctl->cfg->prefix, id->str, id->len) != 0)
        {
            break;
        }

        memcpy(in[count].instance, id->str, id->len);
        in[count].instance[id->len] = '\0';
        in[count].flushed_ms = (long long) strtod(score->str, NULL);
        count++;
    }

    freeReplyObject(list);

    /* every reply is taken, even after an error, to keep the link in step */

    failed = 0;

    for (i = 0; i < count; i++) {
        hash = faas_redis_reply(ctl->redis);

        if (hash == NULL) {
            faas_store_metrics_free(in, i);
            return -1;
        }

        if (hash->type != REDIS_REPLY_ARRAY) {
            (void) faas_store_ok(hash);
            failed = 1;
            hash = NULL;
        }

        in[i].fields = hash;
    }

    if (failed) {
        faas_store_metrics_free(in, count);
        return -1;
    }

    *instances = in;
    *n = count;

    return 0;
}


void
faas_store_metrics_free(faas_store_instance_t *instances, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        freeReplyObject(instances[i].fields);
    }

    free(instances);
}


int
faas_store_read_wakes(faas_ctl_t *ctl,
    void (*fn)(faas_ctl_t *ctl, const char *function, const char *revision,
               long long at_ms))
{
    char         function[FAAS_NAME_MAX + 1], revision[FAAS_NAME_MAX + 1];
    size_t       i;
    redisReply  *reply, *member, *score;

    reply = faas_redis_command(ctl->redis, "ZRANGE %s 0 -1 WITHSCORES",
                               ctl->key_wake);

    if (reply == NULL) {
        return -1;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return -1;
    }

    for (i = 0; i + 1 < reply->elements; i += 2) {
        member = reply->element[i];
        score = reply->element[i + 1];

        if (member->type != REDIS_REPLY_STRING
            || score->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        if (faas_spec_split_names(member->str, member->len, ':', function,
                                  revision) != 0)
        {
            /* not a wake nginx would write: drop it */
            freeReplyObject(faas_redis_command(ctl->redis, "ZREM %s %b",
                                               ctl->key_wake, member->str,
                                               member->len));
            continue;
        }

        fn(ctl, function, revision, (long long) strtod(score->str, NULL));
    }

    freeReplyObject(reply);

    return 0;
}


void
faas_store_remove_wake(faas_ctl_t *ctl, const char *function,
    const char *revision)
{
    (void) faas_store_ok(faas_redis_command(ctl->redis, "ZREM %s %s:%s",
                                            ctl->key_wake, function,
                                            revision));
}


/* runs the appended commands between MULTI and EXEC; 0 when EXEC ran */

static int
faas_store_exec(faas_ctl_t *ctl, int ncommands)
{
    int          i, ok;
    redisReply  *reply;

    ok = 1;

    /* MULTI, then each command's QUEUED */

    for (i = 0; i < ncommands + 1; i++) {
        ok &= faas_store_ok(faas_redis_reply(ctl->redis));
    }

    reply = faas_redis_reply(ctl->redis);

    if (reply == NULL) {
        return -1;
    }

    ok &= (reply->type == REDIS_REPLY_ARRAY);

    freeReplyObject(reply);

    return ok ? 0 : -1;
}


int
faas_store_publish(faas_ctl_t *ctl, faas_replica_t *rp)
{
    char              message[512];
    faas_revision_t  *rev;

    rev = rp->revision;

    /* the message is one argument: hiredis splits the format at spaces */
    snprintf(message, sizeof(message), "up %s %s %s %s", rev->function,
             rev->revision, rp->id, rp->address);

    if (faas_redis_append(ctl->redis, "MULTI") != 0
        || faas_redis_append(ctl->redis, "HSET %sendpoints:%s:%s %s %s",
                             ctl->cfg->prefix, rev->function, rev->revision,
                             rp->id, rp->address) != 0
        || faas_redis_append(ctl->redis, "PUBLISH %s %s", ctl->ch_endpoints,
                             message) != 0
        || faas_redis_append(ctl->redis, "EXEC") != 0)
    {
        return -1;
    }

    return faas_store_exec(ctl, 2);
}


int
faas_store_unpublish(faas_ctl_t *ctl, const char *function,
    const char *revision, const char *id)
{
    char  message[256];

    snprintf(message, sizeof(message), "down %s %s %s", function, revision,
             id);

    if (faas_redis_append(ctl->redis, "MULTI") != 0
        || faas_redis_append(ctl->redis, "HDEL %sendpoints:%s:%s %s",
                             ctl->cfg->prefix, function, revision, id) != 0
        || faas_redis_append(ctl->redis, "PUBLISH %s %s", ctl->ch_endpoints,
                             message) != 0
        || faas_redis_append(ctl->redis, "EXEC") != 0)
    {
        return -1;
    }

    return faas_store_exec(ctl, 2);
}


void
faas_store_write_status(faas_ctl_t *ctl, faas_revision_t *rev,
    const faas_plan_summary_t *summary, int force)
{
    redisReply  *reply;

    if (!force && rev->status_written
        && rev->status_desired == rev->desired
        && rev->status.running == summary->running
        && rev->status.ready == summary->ready
        && rev->status.state == summary->state
        && strcmp(rev->status_reason, rev->reason) == 0
        && strcmp(rev->status_desired_reason, rev->desired_reason) == 0)
    {
        return;
    }

    if (!faas_redis_connected(ctl->redis)) {
        return;
    }

    reply = faas_redis_command(ctl->redis, "HSET %sstatus:%s:%s desired %d "
                               "desired_reason %s running %d ready %d "
                               "state %s reason %s updated_ms %lld",
                               ctl->cfg->prefix, rev->function, rev->revision,
                               rev->desired, rev->desired_reason,
                               summary->running, summary->ready,
                               faas_plan_state_name(summary->state),
                               rev->reason, faas_now_ms());

    if (faas_store_ok(reply)) {
        rev->status_written = 1;
        rev->status_desired = rev->desired;
        rev->status = *summary;
        strcpy(rev->status_reason, rev->reason);
        strcpy(rev->status_desired_reason, rev->desired_reason);
    }
}


void
faas_store_write_replica(faas_ctl_t *ctl, faas_replica_t *rp)
{
    char        *json;
    cJSON       *obj;
    redisReply  *reply;

    if (!faas_redis_connected(ctl->redis)) {
        return;
    }

    obj = cJSON_CreateObject();

    if (obj == NULL
        || !cJSON_AddStringToObject(obj, "state", faas_store_state_name(rp))
        || !cJSON_AddStringToObject(obj, "address", rp->address)
        || !cJSON_AddNumberToObject(obj, "started_ms",
                                    (double) rp->started_ms)
        || !cJSON_AddNumberToObject(obj, "ready_ms", (double) rp->ready_ms)
        || !cJSON_AddNumberToObject(obj, "restarts", rp->restarts)
        || !cJSON_AddStringToObject(obj, "last_exit", rp->last_exit)
        || (json = cJSON_PrintUnformatted(obj)) == NULL)
    {
        cJSON_Delete(obj);
        return;
    }

    cJSON_Delete(obj);

    reply = faas_redis_command(ctl->redis, "HSET %sreplicas:%s:%s %s %s",
                               ctl->cfg->prefix, rp->revision->function,
                               rp->revision->revision, rp->id, json);
    free(json);

    if (faas_store_ok(reply)) {
        rp->record_dirty = 0;
    }
}


void
faas_store_delete_replica(faas_ctl_t *ctl, faas_replica_t *rp)
{
    if (faas_redis_connected(ctl->redis)) {
        (void) faas_store_ok(faas_redis_command(ctl->redis,
                                                "HDEL %sreplicas:%s:%s %s",
                                                ctl->cfg->prefix,
                                                rp->revision->function,
                                                rp->revision->revision,
                                                rp->id));
    }
}


int
faas_store_read_drain(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_drain_report_t *reports, size_t max, size_t *n)
{
    int          failed;
    size_t       i, count;
    long long    flushed[FAAS_STORE_INSTANCES_MAX];
    redisReply  *instances, *value, *id, *field;

    *n = 0;

    instances = faas_redis_command(ctl->redis, "ZRANGEBYSCORE %s %lld +inf "
                                   "WITHSCORES", ctl->key_instances,
                                   faas_now_ms() - FAAS_DRAIN_FRESH_MS);

    if (instances == NULL || instances->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(instances);
        return -1;
    }

    count = 0;

    if (max > FAAS_STORE_INSTANCES_MAX) {
        max = FAAS_STORE_INSTANCES_MAX;
    }

    for (i = 0; i + 1 < instances->elements && count < max; i += 2) {
        id = instances->element[i];

        if (id->type != REDIS_REPLY_STRING
            || instances->element[i + 1]->type != REDIS_REPLY_STRING
            || faas_redis_append(ctl->redis, "HMGET %smetrics:%b %s:%s",
                                 ctl->cfg->prefix, id->str, id->len,
                                 rp->revision->function,
                                 rp->revision->revision) != 0)
        {
            continue;
        }

        flushed[count++] = (long long) strtod(instances->element[i + 1]->str,
                                              NULL);
    }

    freeReplyObject(instances);

    /* HMGET, not HGET: the documented ACL allows it (+hmget) */

    failed = 0;

    for (i = 0; i < count; i++) {
        value = faas_redis_reply(ctl->redis);

        if (value == NULL) {
            return -1;
        }

        field = (value->type == REDIS_REPLY_ARRAY && value->elements == 1)
                ? value->element[0] : NULL;

        if (field && field->type == REDIS_REPLY_STRING) {
            (void) faas_drain_parse(field->str, field->len, rp->id,
                                    &reports[*n]);

        } else if (field && field->type == REDIS_REPLY_NIL) {
            /* this nginx does not declare the revision */
            memset(&reports[*n], 0, sizeof(faas_drain_report_t));

        } else {
            /* an error (NOPERM...): not known to be idle, so it waits */
            if (value->type == REDIS_REPLY_ERROR) {
                faas_log_error("redis: %s", value->str);
            }

            failed = 1;
        }

        reports[*n].flushed_ms = flushed[i];

        (*n)++;
        freeReplyObject(value);
    }

    return failed ? -1 : 0;
}


void
faas_store_heartbeat(faas_ctl_t *ctl, long long now)
{
    char             value[128];
    faas_replica_t  *rp;

    if (now < ctl->heartbeat_at_ms || !faas_redis_connected(ctl->redis)
        || !ctl->specs_known)
    {
        return;
    }

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if ((rp->state == FAAS_REPLICA_READY && !rp->published)
            || (rp->state == FAAS_REPLICA_ADOPTING && !rp->removing))
        {
            return;
        }
    }

    snprintf(value, sizeof(value), "pid %d, since %lld", (int) getpid(),
             ctl->started_ms);

    if (faas_store_ok(faas_redis_command(ctl->redis, "SET %scontroller %s "
                                         "PX %d", ctl->cfg->prefix, value,
                                         FAAS_HEARTBEAT_TTL_MS)))
    {
        ctl->heartbeat_at_ms = now + FAAS_HEARTBEAT_MS;
    }
}


void
faas_store_heartbeat_end(faas_ctl_t *ctl)
{
    if (faas_redis_connected(ctl->redis)) {
        (void) faas_store_ok(faas_redis_command(ctl->redis, "DEL %scontroller",
                                                ctl->cfg->prefix));
    }
}


typedef int (*faas_store_key_pt)(faas_ctl_t *ctl, const char *key,
    const char *function, const char *revision);


/*
 * Calls handler for every key "<prefix><kind>:FN:REV" (SCAN, so Redis is
 * never blocked); keys whose names are not labels are left alone.
 */

static int
faas_store_scan(faas_ctl_t *ctl, const char *kind, faas_store_key_pt handler)
{
    char         cursor[32], function[FAAS_NAME_MAX + 1];
    char         revision[FAAS_NAME_MAX + 1];
    size_t       i, skip;
    redisReply  *reply, *keys, *key;

    strcpy(cursor, "0");
    skip = strlen(ctl->cfg->prefix) + strlen(kind) + 1;

    do {
        reply = faas_redis_command(ctl->redis, "SCAN %s MATCH %s%s:* COUNT "
                                   FAAS_STORE_SCAN_COUNT, cursor,
                                   ctl->cfg->prefix, kind);

        if (reply == NULL) {
            return -1;
        }

        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
            || reply->element[0]->type != REDIS_REPLY_STRING
            || reply->element[1]->type != REDIS_REPLY_ARRAY)
        {
            (void) faas_store_ok(reply);
            return -1;
        }

        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        keys = reply->element[1];

        for (i = 0; i < keys->elements; i++) {
            key = keys->element[i];

            if (key->type != REDIS_REPLY_STRING || key->len <= skip
                || faas_spec_split_names(key->str + skip, key->len - skip,
                                         ':', function, revision) != 0)
            {
                continue;
            }

            if (handler(ctl, key->str, function, revision) != 0) {
                freeReplyObject(reply);
                return -1;
            }
        }

        freeReplyObject(reply);

    } while (strcmp(cursor, "0") != 0);

    return 0;
}


/* 1 if some replica still belongs to the revision */

static int
faas_store_revision_used(faas_ctl_t *ctl, faas_revision_t *rev)
{
    faas_replica_t  *rp;

    if (rev == NULL) {
        return 0;
    }

    if (rev->spec) {
        return 1;
    }

    for (rp = ctl->replicas; rp; rp = rp->next) {
        if (rp->revision == rev) {
            return 1;
        }
    }

    return 0;
}


static int
faas_store_sweep_endpoints(faas_ctl_t *ctl, const char *key,
    const char *function, const char *revision)
{
    int              backed;
    size_t           i;
    redisReply      *reply, *id, *addr;
    faas_replica_t  *rp;

    reply = faas_redis_command(ctl->redis, "HGETALL %s", key);

    if (reply == NULL) {
        return -1;
    }

    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements;
         i += 2)
    {
        id = reply->element[i];
        addr = reply->element[i + 1];

        if (id->type != REDIS_REPLY_STRING || addr->type != REDIS_REPLY_STRING) {
            continue;
        }

        rp = faas_replica_find(ctl, id->str);

        backed = rp != NULL
                 && strcmp(rp->revision->function, function) == 0
                 && strcmp(rp->revision->revision, revision) == 0
                 && strcmp(rp->address, addr->str) == 0
                 && (rp->state == FAAS_REPLICA_READY
                     || (rp->state == FAAS_REPLICA_ADOPTING && !rp->removing));

        if (backed) {
            rp->published = 1;
            continue;
        }

        faas_log_info("endpoint %s of %s/%s at %s has no replica: removed",
                      id->str, function, revision, addr->str);

        if (faas_store_unpublish(ctl, function, revision, id->str) != 0) {
            freeReplyObject(reply);
            return -1;
        }
    }

    freeReplyObject(reply);

    return 0;
}


static int
faas_store_sweep_status(faas_ctl_t *ctl, const char *key,
    const char *function, const char *revision)
{
    faas_revision_t  *rev;

    rev = faas_revision_find(ctl, function, revision);

    if (faas_store_revision_used(ctl, rev)) {
        return 0;
    }

    if (rev) {
        rev->status_written = 0;
    }

    return faas_store_ok(faas_redis_command(ctl->redis, "DEL %s", key))
           ? 0 : -1;
}


static int
faas_store_sweep_records(faas_ctl_t *ctl, const char *key,
    const char *function, const char *revision)
{
    size_t           i;
    redisReply      *reply, *id;
    faas_replica_t  *rp;
    faas_revision_t *rev;

    rev = faas_revision_find(ctl, function, revision);

    if (!faas_store_revision_used(ctl, rev)) {
        return faas_store_ok(faas_redis_command(ctl->redis, "DEL %s", key))
               ? 0 : -1;
    }

    reply = faas_redis_command(ctl->redis, "HKEYS %s", key);

    if (reply == NULL) {
        return -1;
    }

    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        id = reply->element[i];

        if (id->type != REDIS_REPLY_STRING) {
            continue;
        }

        rp = faas_replica_find(ctl, id->str);

        if (rp == NULL || rp->revision != rev) {
            (void) faas_store_ok(faas_redis_command(ctl->redis, "HDEL %s %s",
                                                    key, id->str));
        }
    }

    freeReplyObject(reply);

    return 0;
}


int
faas_store_sweep(faas_ctl_t *ctl)
{
    faas_replica_t  *rp;

    /* whatever is not found in Redis below is published again */

    for (rp = ctl->replicas; rp; rp = rp->next) {
        rp->published = 0;
    }

    if (faas_store_scan(ctl, "endpoints", faas_store_sweep_endpoints) != 0
        || faas_store_scan(ctl, "status", faas_store_sweep_status) != 0
        || faas_store_scan(ctl, "replicas", faas_store_sweep_records) != 0)
    {
        return -1;
    }

    return 0;
}

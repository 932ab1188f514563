/*
 * Copyright (C) nginx-faas developers
 *
 * Publishes what nginx.conf declares, so that the controller can run it:
 * every function's spec as JSON in one hash, replaced as a whole in one
 * transaction (a function removed from nginx.conf disappears from it), and
 * a message on the specs channel so that the controller need not wait for
 * its next poll.  Sent by worker 0 at start, at every reload and whenever
 * its Redis link comes back (Redis may have lost everything).
 */


#include "ngx_http_faas_module.h"


static size_t ngx_http_faas_spec_max_len(ngx_http_faas_function_conf_t *fn);
static u_char *ngx_http_faas_spec_write(u_char *p,
    ngx_http_faas_function_conf_t *fn, ngx_str_t *instance, time_t now);
static u_char *ngx_http_faas_spec_string(u_char *p, const char *name,
    ngx_str_t *value);
static void ngx_http_faas_spec_exec_reply(void *reply, void *data);


ngx_int_t
ngx_http_faas_spec_publish(ngx_http_faas_main_conf_t *fmcf, ngx_log_t *log)
{
    u_char                          *p;
    size_t                           len, *argvlen;
    ngx_int_t                        rc;
    ngx_str_t                       *instance;
    ngx_uint_t                       i, argc;
    ngx_pool_t                      *pool;
    const char                     **argv;
    ngx_http_faas_redis_conf_t      *rcf;
    ngx_http_faas_function_conf_t  **fnp;

    rcf = fmcf->redis;
    fnp = fmcf->functions.elts;

    pool = ngx_create_pool(16384, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    instance = ngx_http_faas_instance();

    argc = 2 + 2 * fmcf->functions.nelts;

    argv = ngx_palloc(pool, argc * sizeof(char *));
    argvlen = ngx_palloc(pool, argc * sizeof(size_t));

    if (argv == NULL || argvlen == NULL) {
        goto done;
    }

    argv[0] = "MULTI";
    argvlen[0] = sizeof("MULTI") - 1;

    if (ngx_http_faas_redis_command(NULL, NULL, 1, argv, argvlen) != NGX_OK) {
        goto done;
    }

    argv[0] = "DEL";
    argvlen[0] = sizeof("DEL") - 1;
    argv[1] = (const char *) rcf->names.specs.data;
    argvlen[1] = rcf->names.specs.len;

    (void) ngx_http_faas_redis_command(NULL, NULL, 2, argv, argvlen);

    if (fmcf->functions.nelts) {
        argv[0] = "HSET";
        argvlen[0] = sizeof("HSET") - 1;
        argc = 2;

        for (i = 0; i < fmcf->functions.nelts; i++) {
            len = ngx_http_faas_spec_max_len(fnp[i]) + 6 * instance->len;

            p = ngx_pnalloc(pool, len);
            if (p == NULL) {
                goto discard;
            }

            argv[argc] = (const char *) fnp[i]->name.data;
            argvlen[argc++] = fnp[i]->name.len;

            argv[argc] = (const char *) p;
            argvlen[argc++] = ngx_http_faas_spec_write(p, fnp[i], instance,
                                                       ngx_time())
                              - p;
        }

        (void) ngx_http_faas_redis_command(NULL, NULL, argc, argv, argvlen);
    }

    argv[0] = "SET";
    argvlen[0] = sizeof("SET") - 1;
    argv[1] = (const char *) rcf->names.schema.data;
    argvlen[1] = rcf->names.schema.len;
    argv[2] = NGX_HTTP_FAAS_SCHEMA_TEXT;
    argvlen[2] = sizeof(NGX_HTTP_FAAS_SCHEMA_TEXT) - 1;

    (void) ngx_http_faas_redis_command(NULL, NULL, 3, argv, argvlen);

    argv[0] = "EXEC";
    argvlen[0] = sizeof("EXEC") - 1;

    (void) ngx_http_faas_redis_command(ngx_http_faas_spec_exec_reply, NULL,
                                       1, argv, argvlen);

    argv[0] = "PUBLISH";
    argvlen[0] = sizeof("PUBLISH") - 1;
    argv[1] = (const char *) rcf->names.ch_specs.data;
    argvlen[1] = rcf->names.ch_specs.len;
    argv[2] = (const char *) instance->data;
    argvlen[2] = instance->len;

    (void) ngx_http_faas_redis_command(NULL, NULL, 3, argv, argvlen);

    rc = NGX_OK;
    goto done;

discard:

    argv[0] = "DISCARD";
    argvlen[0] = sizeof("DISCARD") - 1;

    (void) ngx_http_faas_redis_command(NULL, NULL, 1, argv, argvlen);

done:

    ngx_destroy_pool(pool);

    return rc;
}



static void
ngx_http_faas_spec_exec_reply(void *reply, void *data)
{
    const char  *error;

    error = ngx_http_faas_redis_reply_error(reply);

    if (error == NULL && ngx_http_faas_redis_reply_count(reply) == 0) {
        error = "transaction aborted";
    }

    if (error) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "faas: function specs not published: %s", error);
    }
}


/* an upper bound of what ngx_http_faas_spec_write() writes, sans instance */

static size_t
ngx_http_faas_spec_max_len(ngx_http_faas_function_conf_t *fn)
{
    size_t                          len;
    ngx_uint_t                      i;
    ngx_keyval_t                   *kv;
    ngx_http_faas_revision_conf_t  *rev;

    len = 512 + 6 * (fn->name.len + fn->health.len);

    rev = fn->revisions.elts;

    for (i = 0; i < fn->revisions.nelts; i++) {
        len += 96 + 6 * (rev[i].name.len + rev[i].exec.len + rev[i].image.len);
    }

    kv = fn->env.elts;

    for (i = 0; i < fn->env.nelts; i++) {
        len += 8 + 6 * (kv[i].key.len + kv[i].value.len);
    }

    return len;
}


static u_char *
ngx_http_faas_spec_write(u_char *p, ngx_http_faas_function_conf_t *fn,
    ngx_str_t *instance, time_t now)
{
    ngx_uint_t                      i;
    ngx_keyval_t                   *kv;
    ngx_http_faas_revision_conf_t  *rev;

    p = ngx_sprintf(p, "{\"schema\":%d,", NGX_HTTP_FAAS_SCHEMA_VERSION);
    p = ngx_http_faas_spec_string(p, "name", &fn->name);
    p = ngx_cpymem(p, ",\"revisions\":[", sizeof(",\"revisions\":[") - 1);

    rev = fn->revisions.elts;

    for (i = 0; i < fn->revisions.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '{';
        p = ngx_http_faas_spec_string(p, "name", &rev[i].name);
        p = ngx_sprintf(p, ",\"weight\":%ui", rev[i].weight_pct);

        if (rev[i].exec.len) {
            *p++ = ',';
            p = ngx_http_faas_spec_string(p, "exec", &rev[i].exec);
        }

        if (rev[i].image.len) {
            *p++ = ',';
            p = ngx_http_faas_spec_string(p, "image", &rev[i].image);
        }

        *p++ = '}';
    }

    p = ngx_cpymem(p, "],\"env\":{", sizeof("],\"env\":{") - 1);

    kv = fn->env.elts;

    for (i = 0; i < fn->env.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_http_faas_json_escape(p, kv[i].key.data, kv[i].key.len);
        *p++ = '"';
        *p++ = ':';
        *p++ = '"';
        p = ngx_http_faas_json_escape(p, kv[i].value.data, kv[i].value.len);
        *p++ = '"';
    }

    p = ngx_sprintf(p, "},\"concurrency\":%ui,"
                    "\"scale\":{\"min\":%ui,\"max\":%ui,\"target\":%ui,"
                    "\"idle_ms\":%M},"
                    "\"queue\":{\"size\":%ui,\"timeout_ms\":%M},",
                    fn->concurrency, fn->scale_min, fn->scale_max,
                    fn->scale_target, fn->scale_idle_ms,
                    fn->queue_size, fn->queue_timeout_ms);

    p = ngx_http_faas_spec_string(p, "health", &fn->health);
    *p++ = ',';
    p = ngx_http_faas_spec_string(p, "published_by", instance);
    p = ngx_sprintf(p, ",\"published_at\":%T}", now);

    return p;
}


static u_char *
ngx_http_faas_spec_string(u_char *p, const char *name, ngx_str_t *value)
{
    p = ngx_sprintf(p, "\"%s\":\"", name);
    p = ngx_http_faas_json_escape(p, value->data, value->len);
    *p++ = '"';

    return p;
}

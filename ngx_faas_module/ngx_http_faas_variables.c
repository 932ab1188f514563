/*
 * Copyright (C) nginx-faas developers
 *
 * $faas_function, $faas_revision, $faas_replica, $faas_status, $faas_cold
 * and $faas_queue_time, for log_format and for tests: what the module did
 * with a request.
 */


#include "ngx_http_faas_module.h"


static ngx_int_t ngx_http_faas_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


enum {
    NGX_HTTP_FAAS_VAR_FUNCTION = 0,
    NGX_HTTP_FAAS_VAR_REVISION,
    NGX_HTTP_FAAS_VAR_REPLICA,
    NGX_HTTP_FAAS_VAR_STATUS,
    NGX_HTTP_FAAS_VAR_COLD,
    NGX_HTTP_FAAS_VAR_QUEUE_TIME
};


static ngx_http_variable_t  ngx_http_faas_vars[] = {

    { ngx_string("faas_function"), NULL, ngx_http_faas_variable,
      NGX_HTTP_FAAS_VAR_FUNCTION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("faas_revision"), NULL, ngx_http_faas_variable,
      NGX_HTTP_FAAS_VAR_REVISION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("faas_replica"), NULL, ngx_http_faas_variable,
      NGX_HTTP_FAAS_VAR_REPLICA, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("faas_status"), NULL, ngx_http_faas_variable,
      NGX_HTTP_FAAS_VAR_STATUS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("faas_cold"), NULL, ngx_http_faas_variable,
      NGX_HTTP_FAAS_VAR_COLD, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("faas_queue_time"), NULL, ngx_http_faas_variable,
      NGX_HTTP_FAAS_VAR_QUEUE_TIME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* indexed by ngx_http_faas_status_e */
static ngx_str_t  ngx_http_faas_status_names[] = {
    ngx_null_string,
    ngx_string("PASSED"),
    ngx_string("QUEUED"),
    ngx_string("REJECTED"),
    ngx_string("TIMEOUT"),
    ngx_string("ABORTED"),
    ngx_string("BAD_NAME"),
    ngx_string("NOT_FOUND")
};


ngx_int_t
ngx_http_faas_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_faas_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_faas_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                *p;
    ngx_str_t             *s, text;
    ngx_http_faas_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_faas_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_FAAS_VAR_FUNCTION:
        s = &ctx->function_name;
        break;

    case NGX_HTTP_FAAS_VAR_REVISION:
        s = ctx->revision ? &ctx->revision->name : NULL;
        break;

    case NGX_HTTP_FAAS_VAR_REPLICA:
        s = ctx->peer.name.len ? &ctx->peer.name : NULL;
        break;

    case NGX_HTTP_FAAS_VAR_STATUS:
        s = &ngx_http_faas_status_names[ctx->status];
        break;

    case NGX_HTTP_FAAS_VAR_COLD:
        if (ctx->revision == NULL) {
            s = NULL;
            break;
        }

        ngx_str_set(&text, "0");

        if (ctx->cold) {
            ngx_str_set(&text, "1");
        }

        s = &text;
        break;

    default: /* NGX_HTTP_FAAS_VAR_QUEUE_TIME */
        if (ctx->revision == NULL) {
            s = NULL;
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text.data = p;
        text.len = ngx_sprintf(p, "%M", ctx->wait_ms) - p;
        s = &text;
        break;
    }

    if (s == NULL || s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}

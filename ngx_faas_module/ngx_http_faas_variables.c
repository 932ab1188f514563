/*
 * Copyright (C) nginx-faas developers
 *
 * $faas_function, $faas_revision, $faas_replica and $faas_status, for
 * log_format and for tests: what the module did with a request.
 */


#include "ngx_http_faas_module.h"


static ngx_int_t ngx_http_faas_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


enum {
    NGX_HTTP_FAAS_VAR_FUNCTION = 0,
    NGX_HTTP_FAAS_VAR_REVISION,
    NGX_HTTP_FAAS_VAR_REPLICA,
    NGX_HTTP_FAAS_VAR_STATUS
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

      ngx_http_null_variable
};


/* indexed by ngx_http_faas_status_e */
static ngx_str_t  ngx_http_faas_status_names[] = {
    ngx_null_string,
    ngx_string("PASSED"),
    ngx_string("BAD_NAME"),
    ngx_string("NOT_FOUND"),
    ngx_string("UNAVAILABLE"),
    ngx_string("FAILED")
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
    ngx_str_t             *s;
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

    default: /* NGX_HTTP_FAAS_VAR_STATUS */
        s = &ngx_http_faas_status_names[ctx->status];
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

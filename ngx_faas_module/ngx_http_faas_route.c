/*
 * Copyright (C) nginx-faas developers
 *
 * Routing: which function a request is for, which of its revisions serves
 * it, and the path the function sees.  Runs in the precontent phase of a
 * location with "faas_pass", before proxy_pass takes the request.
 */


#include "ngx_http_faas_module.h"


#define NGX_HTTP_FAAS_ERROR_NAME_MAX  128


static void ngx_http_faas_request_cleanup(void *data);
static ngx_int_t ngx_http_faas_route_name(ngx_http_request_t *r,
    ngx_http_faas_loc_conf_t *flcf, ngx_http_faas_ctx_t *ctx,
    ngx_str_t *rest);
static ngx_int_t ngx_http_faas_route_revision(ngx_http_request_t *r,
    ngx_http_faas_loc_conf_t *flcf, ngx_http_faas_ctx_t *ctx);
static ngx_table_elt_t *ngx_http_faas_find_header(ngx_http_request_t *r,
    ngx_str_t *name);
static u_char *ngx_http_faas_json_string(u_char *p, ngx_str_t *s);


static ngx_str_t  ngx_http_faas_revision_header = ngx_string("X-Faas-Revision");


ngx_int_t
ngx_http_faas_route_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   rest;
    ngx_time_t                 *tp;
    ngx_pool_cleanup_t         *cln;
    ngx_http_faas_ctx_t        *ctx;
    ngx_http_faas_loc_conf_t   *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_faas_module);

    if (!flcf->pass) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_faas_module);

    if (ctx) {
        /* the body is in, or the request was released from the queue */
        return ngx_http_faas_resume(r, ctx);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_faas_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_faas_request_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_faas_module);

    rc = ngx_http_faas_route_name(r, flcf, ctx, &rest);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_faas_route_revision(r, flcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (flcf->pass_name == NULL) {
        /* the function sees its own path: "/function/hello/a" is "/a" */

        if (rest.len == 0) {
            ngx_str_set(&r->uri, "/");

        } else {
            r->uri = rest;
        }

        r->valid_unparsed_uri = 0;
    }

    (void) ngx_atomic_fetch_add(&ctx->revision->shm->requests, 1);

    tp = ngx_timeofday();
    ctx->revision->shm->last_request_ms = (ngx_atomic_uint_t) tp->sec * 1000
                                          + tp->msec;

    return ngx_http_faas_admit(r, ctx);
}


static void
ngx_http_faas_request_cleanup(void *data)
{
    ngx_http_faas_request_done(data);
}


/*
 * Finds the function: from faas_pass's argument, or from the first path
 * segment after the location prefix, in which case *rest is set to the
 * path that follows it.  Answers 400 or 404 itself.
 */

static ngx_int_t
ngx_http_faas_route_name(ngx_http_request_t *r, ngx_http_faas_loc_conf_t *flcf,
    ngx_http_faas_ctx_t *ctx, ngx_str_t *rest)
{
    ngx_int_t                   rc;
    ngx_str_t                   name;
    ngx_http_faas_slice_t       name_slice, rest_slice;
    ngx_http_faas_main_conf_t  *fmcf;

    rest->len = 0;
    rest->data = NULL;

    if (flcf->pass_name) {
        if (ngx_http_complex_value(r, flcf->pass_name, &name) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ngx_http_faas_split_path(r->uri.data, r->uri.len,
                                        flcf->location.len,
                                        &name_slice, &rest_slice)
               == 0)
    {
        name.data = (u_char *) name_slice.data;
        name.len = name_slice.len;
        rest->data = (u_char *) rest_slice.data;
        rest->len = rest_slice.len;

    } else {
        ngx_str_null(&name);
    }

    ctx->function_name = name;

    if (name.len == 0) {
        ctx->status = NGX_HTTP_FAAS_ST_BAD_NAME;
        rc = ngx_http_faas_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "no function name in the path",
                                      &name, NULL);
        goto done;
    }

    if (!ngx_http_faas_valid_name(name.data, name.len)) {
        ctx->status = NGX_HTTP_FAAS_ST_BAD_NAME;
        rc = ngx_http_faas_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "invalid function name", &name, NULL);
        goto done;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_faas_module);

    ctx->function = ngx_http_faas_function_find(fmcf, name.data, name.len);

    if (ctx->function == NULL) {
        ctx->status = NGX_HTTP_FAAS_ST_NOT_FOUND;
        rc = ngx_http_faas_send_error(r, NGX_HTTP_NOT_FOUND,
                                      "unknown function", &name, NULL);
        goto done;
    }

    return NGX_OK;

done:

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


/*
 * Chooses the revision: the one pinned by X-Faas-Revision where that is
 * allowed, else by the hash of the faas_sticky key, else at random, in
 * proportion to the weights.
 */

static ngx_int_t
ngx_http_faas_route_revision(ngx_http_request_t *r,
    ngx_http_faas_loc_conf_t *flcf, ngx_http_faas_ctx_t *ctx)
{
    int                             i;
    unsigned                        point;
    ngx_int_t                       rc;
    ngx_str_t                       key;
    ngx_table_elt_t                *h;
    ngx_http_faas_function_conf_t  *fn;
    ngx_http_faas_revision_conf_t  *rev;

    fn = ctx->function;
    rev = fn->revisions.elts;

    if (flcf->revision_header) {
        h = ngx_http_faas_find_header(r, &ngx_http_faas_revision_header);

        if (h) {
            if (!ngx_http_faas_valid_name(h->value.data, h->value.len)) {
                ctx->status = NGX_HTTP_FAAS_ST_BAD_NAME;
                rc = ngx_http_faas_send_error(r, NGX_HTTP_BAD_REQUEST,
                                              "invalid revision name",
                                              &fn->name, &h->value);
                goto done;
            }

            ctx->revision = ngx_http_faas_revision_find(fn, h->value.data,
                                                        h->value.len);
            if (ctx->revision == NULL) {
                ctx->status = NGX_HTTP_FAAS_ST_NOT_FOUND;
                rc = ngx_http_faas_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "unknown revision",
                                              &fn->name, &h->value);
                goto done;
            }

            return NGX_OK;
        }
    }

    if (fn->revisions.nelts == 1) {
        ctx->revision = &rev[0];
        return NGX_OK;
    }

    key.len = 0;

    if (flcf->sticky) {
        if (ngx_http_complex_value(r, flcf->sticky, &key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* a request without a key (no cookie yet, say) is split at random */

    if (key.len) {
        point = ngx_http_faas_sticky_point(key.data, key.len);

    } else {
        point = (unsigned) ngx_random() % 100;
    }

    i = ngx_http_faas_split_pick(fn->weights_pct, fn->revisions.nelts, point);

    ctx->revision = &rev[i < 0 ? 0 : i];

    return NGX_OK;

done:

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


static ngx_table_elt_t *
ngx_http_faas_find_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * Answers the request with status and a JSON body:
 * {"error": "...", "function": "...", "revision": "..."}, the revision only
 * when given.  Names come from the request, so they are escaped and cut to
 * a sane length.  Returns what the caller passes to
 * ngx_http_finalize_request().
 */

ngx_int_t
ngx_http_faas_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, ngx_str_t *function, ngx_str_t *revision)
{
    size_t            len;
    u_char           *p;
    ngx_buf_t        *b;
    ngx_str_t         err, type;
    ngx_table_elt_t  *h;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err.data = (u_char *) error;
    err.len = ngx_strlen(error);

    len = sizeof("{\"error\":,\"function\":,\"revision\":}\n") - 1
          + 3 * (2 + 6 * NGX_HTTP_FAAS_ERROR_NAME_MAX);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"error\":", sizeof("{\"error\":") - 1);
    p = ngx_http_faas_json_string(p, &err);

    p = ngx_cpymem(p, ",\"function\":", sizeof(",\"function\":") - 1);
    p = ngx_http_faas_json_string(p, function);

    if (revision) {
        p = ngx_cpymem(p, ",\"revision\":", sizeof(",\"revision\":") - 1);
        p = ngx_http_faas_json_string(p, revision);
    }

    *p++ = '}';
    *p++ = '\n';

    b->last = p;

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        ngx_str_set(&h->value, "1");
    }

    ngx_str_set(&type, "application/json");

    return ngx_http_faas_send(r, status, &type, b);
}


/*
 * Sends a whole answer held in one buffer.  Returns what the caller passes
 * to ngx_http_finalize_request().
 */

ngx_int_t
ngx_http_faas_send(ngx_http_request_t *r, ngx_uint_t status, ngx_str_t *type,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* writes s as a JSON string, at most NGX_HTTP_FAAS_ERROR_NAME_MAX bytes */

static u_char *
ngx_http_faas_json_string(u_char *p, ngx_str_t *s)
{
    size_t  len;

    len = ngx_min(s->len, NGX_HTTP_FAAS_ERROR_NAME_MAX);

    *p++ = '"';
    p = ngx_http_faas_json_escape(p, s->data, len);
    *p++ = '"';

    return p;
}

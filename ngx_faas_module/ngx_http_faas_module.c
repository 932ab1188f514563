/*
 * Copyright (C) nginx-faas developers
 *
 * The module definition: directives, configuration create/merge and the
 * hooks into nginx's life cycle.  No logic lives here.
 */


#include "ngx_http_faas_module.h"


static ngx_int_t ngx_http_faas_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_faas_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_faas_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_faas_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_faas_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_faas_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_faas_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_faas_init_process(ngx_cycle_t *cycle);
static ngx_http_faas_main_conf_t *ngx_http_faas_used(ngx_cycle_t *cycle);
static void ngx_http_faas_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_faas_commands[] = {

    { ngx_string("faas_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_faas_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("faas_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_faas_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("faas_function"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_faas_function,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("faas_balancer"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS,
      ngx_http_faas_balancer,
      0,
      0,
      NULL },

    { ngx_string("faas_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_faas_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("faas_sticky"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_faas_loc_conf_t, sticky),
      NULL },

    { ngx_string("faas_revision_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_faas_loc_conf_t, revision_header),
      NULL },

    { ngx_string("faas_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_faas_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_faas_module_ctx = {
    ngx_http_faas_preconfiguration,        /* preconfiguration */
    ngx_http_faas_postconfiguration,       /* postconfiguration */

    ngx_http_faas_create_main_conf,        /* create main configuration */
    ngx_http_faas_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_faas_create_loc_conf,         /* create location configuration */
    ngx_http_faas_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_faas_module = {
    NGX_MODULE_V1,
    &ngx_http_faas_module_ctx,             /* module context */
    ngx_http_faas_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_faas_init_module,             /* init module */
    ngx_http_faas_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_faas_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_faas_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_faas_add_variables(cf);
}


static ngx_int_t
ngx_http_faas_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    /* routing runs after access checks, so that "allow"/"auth_request"
     * decide before a function is woken up for a request */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_faas_route_handler;

    return NGX_OK;
}


static void *
ngx_http_faas_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_faas_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_faas_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     fmcf->shm_zone = NULL;
     *     fmcf->redis = NULL;
     *     fmcf->balancer_used = 0;
     */

    if (ngx_array_init(&fmcf->functions, cf->pool, 4,
                       sizeof(ngx_http_faas_function_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return fmcf;
}


static char *
ngx_http_faas_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_faas_main_conf_t *fmcf = conf;

    if (ngx_http_faas_functions_init(cf, fmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_faas_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_faas_loc_conf_t  *flcf;

    flcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_faas_loc_conf_t));
    if (flcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     flcf->pass_name = NULL;
     *     flcf->location = { 0, NULL };
     */

    flcf->pass = NGX_CONF_UNSET;
    flcf->sticky = NGX_CONF_UNSET_PTR;
    flcf->revision_header = NGX_CONF_UNSET;

    return flcf;
}


static char *
ngx_http_faas_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_faas_loc_conf_t *prev = parent;
    ngx_http_faas_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    /* faas_pass is not inherited: a nested location routes only when it
     * says so, as with proxy_pass */

    ngx_conf_init_value(conf->pass, 0);

    /* the *_pass directives take the content handler without asking, so
     * the conflicts are found here, once the location is read */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->status && clcf->handler != ngx_http_faas_status_handler) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"faas_status\" in location \"%V\" conflicts "
                           "with another content handler", &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (conf->pass && clcf->handler == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"faas_pass\" in location \"%V\" needs "
                           "\"proxy_pass\" to an upstream with "
                           "\"faas_balancer\"", &clcf->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->sticky, prev->sticky, NULL);
    ngx_conf_merge_value(conf->revision_header, prev->revision_header, 0);

    return NGX_CONF_OK;
}


/* the module's configuration when this cycle routes functions, or NULL */

static ngx_http_faas_main_conf_t *
ngx_http_faas_used(ngx_cycle_t *cycle)
{
    ngx_http_faas_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_faas_module);

    if (fmcf == NULL || fmcf->shm_zone == NULL || fmcf->redis == NULL) {
        return NULL;
    }

    return fmcf;
}


static ngx_int_t
ngx_http_faas_init_module(ngx_cycle_t *cycle)
{
    if (ngx_http_faas_used(cycle) == NULL) {
        return NGX_OK;
    }

    return ngx_http_faas_queue_init_module(cycle);
}


static ngx_int_t
ngx_http_faas_init_process(ngx_cycle_t *cycle)
{
    ngx_http_faas_main_conf_t  *fmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    fmcf = ngx_http_faas_used(cycle);
    if (fmcf == NULL) {
        return NGX_OK;
    }

    if (ngx_http_faas_queue_init_process(cycle) != NGX_OK
        || ngx_http_faas_sync_init_process(cycle, fmcf) != NGX_OK
        || ngx_http_faas_metrics_init_process(cycle, fmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_faas_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_faas_used(cycle) == NULL) {
        return;
    }

    ngx_http_faas_metrics_exit_process();
    ngx_http_faas_sync_exit_process();
    ngx_http_faas_queue_exit_process();
}

/*
 * Copyright (C) nginx-faas developers
 *
 * Parsing and validation of the module's directives.  Every mistake is
 * rejected here, when "nginx -t" reads the configuration, with one line that
 * names the directive and quotes the value; nothing is silently defaulted.
 */


#include "ngx_http_faas_module.h"


#define NGX_HTTP_FAAS_ZONE_MIN_PAGES     8
#define NGX_HTTP_FAAS_PREFIX_MAX         64
#define NGX_HTTP_FAAS_HEALTH_MAX         1024
#define NGX_HTTP_FAAS_COUNT_MAX          1000000


/* a faas_pass with a fixed name, checked once every function is known */
typedef struct {
    ngx_str_t                        name;
    ngx_str_t                        file;
    ngx_uint_t                       line;
} ngx_http_faas_static_pass_t;


static char *ngx_http_faas_redis_text(ngx_conf_t *cf, ngx_str_t *word,
    ngx_str_t *value, ngx_str_t *field);
static ngx_int_t ngx_http_faas_redis_names(ngx_conf_t *cf,
    ngx_http_faas_redis_conf_t *rcf);
static char *ngx_http_faas_function_block(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_faas_revision(ngx_conf_t *cf,
    ngx_http_faas_function_conf_t *fn);
static char *ngx_http_faas_env(ngx_conf_t *cf,
    ngx_http_faas_function_conf_t *fn);
static char *ngx_http_faas_count(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *word, ngx_str_t *value, ngx_uint_t *count);
static char *ngx_http_faas_scale(ngx_conf_t *cf,
    ngx_http_faas_function_conf_t *fn);
static char *ngx_http_faas_queue(ngx_conf_t *cf,
    ngx_http_faas_function_conf_t *fn);
static char *ngx_http_faas_health(ngx_conf_t *cf,
    ngx_http_faas_function_conf_t *fn);
static char *ngx_http_faas_msec(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *param, ngx_str_t *value, ngx_msec_t *msec);
static char *ngx_http_faas_function_done(ngx_conf_t *cf,
    ngx_http_faas_function_conf_t *fn);
static char *ngx_http_faas_split_quoted_param(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_uint_t i);
static ngx_int_t ngx_http_faas_param(ngx_str_t *word, const char *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_faas_check_passes(ngx_conf_t *cf,
    ngx_http_faas_main_conf_t *fmcf);


static ngx_str_t  ngx_http_faas_reserved_env[] = {
    ngx_string("PORT"),
    ngx_string("port"),
    ngx_string("FAAS_FUNCTION"),
    ngx_string("FAAS_REVISION"),
    ngx_null_string
};


char *
ngx_http_faas_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_faas_main_conf_t *fmcf = conf;

    ssize_t                size;
    ngx_str_t             *value;
    ngx_http_faas_zone_t  *zone;

    value = cf->args->elts;

    if (fmcf->shm_zone) {
        return "is duplicate";
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty zone name in \"faas_zone\"");
        return NGX_CONF_ERROR;
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"faas_zone\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (NGX_HTTP_FAAS_ZONE_MIN_PAGES * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone size \"%V\" in \"faas_zone\" is too small, "
                           "the minimum is %uzk", &value[2],
                           NGX_HTTP_FAAS_ZONE_MIN_PAGES * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_faas_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    fmcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_faas_module);
    if (fmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" in \"faas_zone\" is already used",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    zone->fmcf = fmcf;

    fmcf->shm_zone->init = ngx_http_faas_shm_init_zone;
    fmcf->shm_zone->data = zone;

    return NGX_CONF_OK;
}


char *
ngx_http_faas_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_faas_main_conf_t *fmcf = conf;

    u_char                      *p, text[NGX_SOCKADDR_STRLEN];
    size_t                       len;
    ngx_int_t                    db;
    ngx_str_t                   *value, v;
    ngx_url_t                    u;
    ngx_uint_t                   i;
    struct sockaddr_un          *sun;
    ngx_http_faas_redis_conf_t  *rcf;

    if (fmcf->redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_faas_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->text = value[1];

    /* hiredis resolves names with a blocking call, so the name is resolved
     * here, once, while the configuration is read */

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" in \"faas_redis\": %s",
                           &value[1], u.err ? u.err : "host not found");
        return NGX_CONF_ERROR;
    }

    if (u.uri.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" in \"faas_redis\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (u.addrs[0].sockaddr->sa_family == AF_UNIX) {
        sun = (struct sockaddr_un *) u.addrs[0].sockaddr;
        len = ngx_strlen(sun->sun_path);

        rcf->unix_path.data = ngx_pnalloc(cf->pool, len + 1);
        if (rcf->unix_path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(rcf->unix_path.data, sun->sun_path, len + 1);
        rcf->unix_path.len = len;

    } else {
        len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, text,
                            NGX_SOCKADDR_STRLEN, 0);

        rcf->host.data = ngx_pnalloc(cf->pool, len + 1);
        if (rcf->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(rcf->host.data, text, len);
        *p = '\0';
        rcf->host.len = len;
        rcf->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    rcf->db = NGX_CONF_UNSET;
    rcf->resync_ms = NGX_CONF_UNSET_MSEC;
    rcf->metrics_ms = NGX_CONF_UNSET_MSEC;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_http_faas_param(&value[i], "password", &v) == NGX_OK) {
            if (ngx_http_faas_redis_text(cf, &value[i], &v, &rcf->password)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_faas_param(&value[i], "user", &v) == NGX_OK) {
            if (ngx_http_faas_redis_text(cf, &value[i], &v, &rcf->user)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_faas_param(&value[i], "db", &v) == NGX_OK) {
            if (rcf->db != NGX_CONF_UNSET) {
                goto duplicate;
            }

            db = ngx_atoi(v.data, v.len);

            if (db == NGX_ERROR || db > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid database \"%V\" in \"faas_redis\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->db = db;
            continue;
        }

        if (ngx_http_faas_param(&value[i], "prefix", &v) == NGX_OK) {
            if (rcf->prefix.data) {
                goto duplicate;
            }

            for (p = v.data; p < v.data + v.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9') || *p == ':' || *p == '_'
                      || *p == '-' || *p == '.' || *p == '{' || *p == '}'))
                {
                    break;
                }
            }

            if (v.len == 0 || v.len > NGX_HTTP_FAAS_PREFIX_MAX
                || p != v.data + v.len)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid prefix \"%V\" in \"faas_redis\", "
                                   "it takes 1-%d characters of "
                                   "[A-Za-z0-9:_.{}-]",
                                   &value[i], NGX_HTTP_FAAS_PREFIX_MAX);
                return NGX_CONF_ERROR;
            }

            rcf->prefix = v;
            continue;
        }

        if (ngx_http_faas_param(&value[i], "resync", &v) == NGX_OK) {
            if (ngx_http_faas_msec(cf, &value[0], &value[i], &v,
                                   &rcf->resync_ms)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (rcf->resync_ms < 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" in \"faas_redis\" is too short, "
                                   "the minimum is 100ms", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_faas_param(&value[i], "metrics", &v) == NGX_OK) {
            if (ngx_http_faas_msec(cf, &value[0], &value[i], &v,
                                   &rcf->metrics_ms)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (rcf->metrics_ms < 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" in \"faas_redis\" is too short, "
                                   "the minimum is 100ms", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"faas_redis\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_value(rcf->db, 0);
    ngx_conf_init_msec_value(rcf->resync_ms, 5000);
    ngx_conf_init_msec_value(rcf->metrics_ms, 1000);

    if (rcf->prefix.data == NULL) {
        ngx_str_set(&rcf->prefix, "faas:");
    }

    if (ngx_http_faas_redis_names(cf, rcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (rcf->user.len && rcf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"user=%V\" in \"faas_redis\" needs \"password=\"",
                           &rcf->user);
        return NGX_CONF_ERROR;
    }

    fmcf->redis = rcf;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate \"%V\" in \"faas_redis\"", &value[i]);
    return NGX_CONF_ERROR;
}


/* the fixed key and channel names under the prefix (docs/redis-schema.md) */

static ngx_int_t
ngx_http_faas_redis_names(ngx_conf_t *cf, ngx_http_faas_redis_conf_t *rcf)
{
    ngx_uint_t                    i;
    ngx_http_faas_redis_names_t  *n;

    static const struct {
        const char               *name;
        size_t                    offset;
    } names[] = {
        { "specs", offsetof(ngx_http_faas_redis_names_t, specs) },
        { "schema", offsetof(ngx_http_faas_redis_names_t, schema) },
        { "controller", offsetof(ngx_http_faas_redis_names_t, controller) },
        { "wake", offsetof(ngx_http_faas_redis_names_t, wake) },
        { "instances", offsetof(ngx_http_faas_redis_names_t, instances) },
        { "ch:specs", offsetof(ngx_http_faas_redis_names_t, ch_specs) },
        { "ch:endpoints",
          offsetof(ngx_http_faas_redis_names_t, ch_endpoints) },
        { "ch:wake", offsetof(ngx_http_faas_redis_names_t, ch_wake) }
    };

    n = &rcf->names;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ngx_str_t  *s = (ngx_str_t *) ((u_char *) n + names[i].offset);

        s->data = ngx_pnalloc(cf->pool,
                              rcf->prefix.len + ngx_strlen(names[i].name));
        if (s->data == NULL) {
            return NGX_ERROR;
        }

        s->len = ngx_sprintf(s->data, "%V%s", &rcf->prefix, names[i].name)
                 - s->data;
    }

    return NGX_OK;
}


/* a password= or user= of faas_redis: given once, not empty */

static char *
ngx_http_faas_redis_text(ngx_conf_t *cf, ngx_str_t *word, ngx_str_t *value,
    ngx_str_t *field)
{
    if (field->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"%V\" in \"faas_redis\"", word);
        return NGX_CONF_ERROR;
    }

    if (value->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty \"%V\" in \"faas_redis\"", word);
        return NGX_CONF_ERROR;
    }

    *field = *value;

    return NGX_CONF_OK;
}


char *
ngx_http_faas_function(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_faas_main_conf_t *fmcf = conf;

    char                            *rv;
    ngx_str_t                       *value;
    ngx_uint_t                       i;
    ngx_conf_t                       save;
    ngx_http_faas_function_conf_t   *fn, **fnp;

    value = cf->args->elts;

    if (!ngx_http_faas_valid_name(value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid function name \"%V\" in \"faas_function\","
                           " it must be a DNS label: lowercase letters, "
                           "digits and \"-\", at most %d characters",
                           &value[1], NGX_HTTP_FAAS_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    fnp = fmcf->functions.elts;

    for (i = 0; i < fmcf->functions.nelts; i++) {
        if (fnp[i]->name.len == value[1].len
            && ngx_strncmp(fnp[i]->name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"faas_function\" \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    fn = ngx_pcalloc(cf->pool, sizeof(ngx_http_faas_function_conf_t));
    if (fn == NULL) {
        return NGX_CONF_ERROR;
    }

    fn->name = value[1];

    if (ngx_array_init(&fn->revisions, cf->pool, 2,
                       sizeof(ngx_http_faas_revision_conf_t))
        != NGX_OK
        || ngx_array_init(&fn->env, cf->pool, 2, sizeof(ngx_keyval_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    fn->concurrency = NGX_CONF_UNSET_UINT;
    fn->scale_min = NGX_CONF_UNSET_UINT;
    fn->scale_max = NGX_CONF_UNSET_UINT;
    fn->scale_target = NGX_CONF_UNSET_UINT;
    fn->scale_idle_ms = NGX_CONF_UNSET_MSEC;
    fn->queue_size = NGX_CONF_UNSET_UINT;
    fn->queue_timeout_ms = NGX_CONF_UNSET_MSEC;

    fnp = ngx_array_push(&fmcf->functions);
    if (fnp == NULL) {
        return NGX_CONF_ERROR;
    }

    *fnp = fn;

    save = *cf;
    cf->handler = ngx_http_faas_function_block;
    cf->handler_conf = (char *) fn;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_faas_function_done(cf, fn);
}


static char *
ngx_http_faas_function_block(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_faas_function_conf_t *fn = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[0].len == 8 && ngx_strncmp(value[0].data, "revision", 8) == 0) {
        return ngx_http_faas_revision(cf, fn);
    }

    if (value[0].len == 3 && ngx_strncmp(value[0].data, "env", 3) == 0) {
        return ngx_http_faas_env(cf, fn);
    }

    if (value[0].len == 11
        && ngx_strncmp(value[0].data, "concurrency", 11) == 0)
    {
        if (cf->args->nelts != 2) {
            goto wrong_args;
        }

        if (fn->concurrency != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        return ngx_http_faas_count(cf, &value[0], &value[1], &value[1],
                                   &fn->concurrency);
    }

    if (value[0].len == 5 && ngx_strncmp(value[0].data, "scale", 5) == 0) {
        if (fn->scale_min != NGX_CONF_UNSET_UINT
            || fn->scale_max != NGX_CONF_UNSET_UINT
            || fn->scale_target != NGX_CONF_UNSET_UINT
            || fn->scale_idle_ms != NGX_CONF_UNSET_MSEC)
        {
            goto duplicate;
        }

        return ngx_http_faas_scale(cf, fn);
    }

    if (value[0].len == 5 && ngx_strncmp(value[0].data, "queue", 5) == 0) {
        if (fn->queue_size != NGX_CONF_UNSET_UINT
            || fn->queue_timeout_ms != NGX_CONF_UNSET_MSEC)
        {
            goto duplicate;
        }

        return ngx_http_faas_queue(cf, fn);
    }

    if (value[0].len == 6 && ngx_strncmp(value[0].data, "health", 6) == 0) {
        if (cf->args->nelts != 2) {
            goto wrong_args;
        }

        if (fn->health.data) {
            goto duplicate;
        }

        return ngx_http_faas_health(cf, fn);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in faas_function \"%V\"",
                       &value[0], &fn->name);
    return NGX_CONF_ERROR;

wrong_args:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid number of arguments in \"%V\" "
                       "of faas_function \"%V\"", &value[0], &fn->name);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is duplicate in faas_function \"%V\"",
                       &value[0], &fn->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_faas_revision(ngx_conf_t *cf, ngx_http_faas_function_conf_t *fn)
{
    ngx_int_t                       n;
    ngx_str_t                      *value, v;
    ngx_uint_t                      i;
    ngx_http_faas_revision_conf_t  *rev;

    value = cf->args->elts;

    if (cf->args->nelts < 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"revision\" in faas_function \"%V\" needs a name "
                           "and \"exec=\" or \"image=\"", &fn->name);
        return NGX_CONF_ERROR;
    }

    if (!ngx_http_faas_valid_name(value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid revision name \"%V\" in faas_function "
                           "\"%V\", it must be a DNS label: lowercase letters,"
                           " digits and \"-\", at most %d characters",
                           &value[1], &fn->name, NGX_HTTP_FAAS_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_faas_revision_find(fn, value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate revision \"%V\" in faas_function \"%V\"",
                           &value[1], &fn->name);
        return NGX_CONF_ERROR;
    }

    rev = ngx_array_push(&fn->revisions);
    if (rev == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rev, sizeof(ngx_http_faas_revision_conf_t));

    rev->name = value[1];
    rev->weight_pct = NGX_CONF_UNSET_UINT;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_http_faas_param(&value[i], "weight", &v) == NGX_OK) {
            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid weight \"%V\" in \"revision\" of "
                                   "faas_function \"%V\", it takes an integer "
                                   "from 0 to 100", &value[i], &fn->name);
                return NGX_CONF_ERROR;
            }

            if (rev->weight_pct != NGX_CONF_UNSET_UINT) {
                goto duplicate;
            }

            rev->weight_pct = n;
            continue;
        }

        if (ngx_http_faas_param(&value[i], "exec", &v) == NGX_OK) {
            if (v.len && (v.data[0] == '"' || v.data[0] == '\'')) {
                return ngx_http_faas_split_quoted_param(cf, &fn->name, i);
            }

            if (v.len == 0) {
                goto empty;
            }

            if (rev->exec.data) {
                goto duplicate;
            }

            rev->exec = v;
            continue;
        }

        if (ngx_http_faas_param(&value[i], "image", &v) == NGX_OK) {
            if (v.len && (v.data[0] == '"' || v.data[0] == '\'')) {
                return ngx_http_faas_split_quoted_param(cf, &fn->name, i);
            }

            if (v.len == 0) {
                goto empty;
            }

            if (rev->image.data) {
                goto duplicate;
            }

            rev->image = v;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"revision\" of "
                           "faas_function \"%V\"", &value[i], &fn->name);
        return NGX_CONF_ERROR;
    }

    if (rev->exec.data == NULL && rev->image.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "revision \"%V\" of faas_function \"%V\" needs "
                           "\"exec=\" or \"image=\"", &rev->name, &fn->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

empty:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "empty \"%V\" in \"revision\" of faas_function \"%V\"",
                       &value[i], &fn->name);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate \"%V\" in \"revision\" of faas_function "
                       "\"%V\"", &value[i], &fn->name);
    return NGX_CONF_ERROR;
}


/*
 * nginx honours quotes only at the start of a word, so exec="a b" arrives as
 * the two words exec="a and b".  The mistake is common enough to deserve an
 * error that shows the form that works.  value[i] is the word that opens
 * the quote after "=".
 */

static char *
ngx_http_faas_split_quoted_param(ngx_conf_t *cf, ngx_str_t *function,
    ngx_uint_t i)
{
    u_char      quote, *p, *eq;
    size_t      len, opening;
    ngx_str_t  *value, fixed;
    ngx_uint_t  j, k;

    value = cf->args->elts;

    eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
    opening = eq + 1 - value[i].data;
    quote = value[i].data[opening];

    /* the quote closes at the first word ending with it, which may be the
     * opening word itself: exec="/srv/fn/hello" */

    for (j = i; j + 1 < cf->args->nelts; j++) {
        if (value[j].data[value[j].len - 1] == quote
            && (j > i || value[j].len > opening + 1))
        {
            break;
        }
    }

    len = 0;

    for (k = i; k <= j; k++) {
        len += value[k].len + 1;
    }

    fixed.data = ngx_pnalloc(cf->pool, len);
    if (fixed.data == NULL) {
        return NGX_CONF_ERROR;
    }

    /* name=, then the words without the two quotes */

    p = ngx_cpymem(fixed.data, value[i].data, opening);
    p = ngx_cpymem(p, value[i].data + opening + 1, value[i].len - opening - 1);

    for (k = i + 1; k <= j; k++) {
        *p++ = ' ';
        p = ngx_cpymem(p, value[k].data, value[k].len);
    }

    fixed.len = p - fixed.data;

    if (fixed.len > opening && fixed.data[fixed.len - 1] == quote) {
        fixed.len--;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "quote the whole parameter in \"revision\" of "
                       "faas_function \"%V\": write \"%V\"",
                       function, &fixed);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_faas_env(ngx_conf_t *cf, ngx_http_faas_function_conf_t *fn)
{
    u_char        *eq;
    ngx_str_t     *value, *reserved;
    ngx_uint_t     i, j;
    ngx_keyval_t  *kv;

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"env\" in faas_function \"%V\" needs NAME=VALUE",
                           &fn->name);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (eq == NULL
            || !ngx_http_faas_valid_env_name(value[i].data, eq - value[i].data))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"env\" \"%V\" in faas_function "
                               "\"%V\", it takes NAME=VALUE with NAME of "
                               "[A-Za-z_][A-Za-z0-9_]*", &value[i], &fn->name);
            return NGX_CONF_ERROR;
        }

        kv = ngx_array_push(&fn->env);
        if (kv == NULL) {
            return NGX_CONF_ERROR;
        }

        kv->key.data = value[i].data;
        kv->key.len = eq - value[i].data;
        kv->value.data = eq + 1;
        kv->value.len = value[i].data + value[i].len - (eq + 1);

        for (reserved = ngx_http_faas_reserved_env; reserved->len; reserved++) {
            if (reserved->len == kv->key.len
                && ngx_strncmp(reserved->data, kv->key.data, kv->key.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"env\" \"%V\" in faas_function \"%V\" "
                                   "sets a variable that the runtime sets",
                                   &value[i], &fn->name);
                return NGX_CONF_ERROR;
            }
        }

        kv = fn->env.elts;

        for (j = 0; j + 1 < fn->env.nelts; j++) {
            if (kv[j].key.len == kv[fn->env.nelts - 1].key.len
                && ngx_strncmp(kv[j].key.data, kv[fn->env.nelts - 1].key.data,
                               kv[j].key.len)
                   == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"env\" \"%V\" in faas_function "
                                   "\"%V\"", &value[i], &fn->name);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


/*
 * Parses a count: value is the number itself, word the whole parameter it
 * came from ("max=20"), which the error message quotes.
 */

static char *
ngx_http_faas_count(ngx_conf_t *cf, ngx_str_t *directive, ngx_str_t *word,
    ngx_str_t *value, ngx_uint_t *count)
{
    ngx_int_t  n;

    if (*count != NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"%V\" in \"%V\"", word, directive);
        return NGX_CONF_ERROR;
    }

    n = ngx_atoi(value->data, value->len);

    if (n == NGX_ERROR || n > NGX_HTTP_FAAS_COUNT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number \"%V\" in \"%V\", it takes an "
                           "integer from 0 to %d", word, directive,
                           NGX_HTTP_FAAS_COUNT_MAX);
        return NGX_CONF_ERROR;
    }

    *count = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_faas_scale(ngx_conf_t *cf, ngx_http_faas_function_conf_t *fn)
{
    ngx_str_t   *value, v;
    ngx_uint_t   i, *count;

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"scale\" in faas_function \"%V\" needs min=, "
                           "max=, target= or idle=", &fn->name);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_faas_param(&value[i], "min", &v) == NGX_OK) {
            count = &fn->scale_min;

        } else if (ngx_http_faas_param(&value[i], "max", &v) == NGX_OK) {
            count = &fn->scale_max;

        } else if (ngx_http_faas_param(&value[i], "target", &v) == NGX_OK) {
            count = &fn->scale_target;

        } else if (ngx_http_faas_param(&value[i], "idle", &v) == NGX_OK) {
            if (ngx_http_faas_msec(cf, &value[0], &value[i], &v,
                                   &fn->scale_idle_ms)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (fn->scale_idle_ms < 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" in \"scale\" of faas_function "
                                   "\"%V\" is too short, the minimum is 1s",
                                   &value[i], &fn->name);
                return NGX_CONF_ERROR;
            }

            continue;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"scale\" of "
                               "faas_function \"%V\"", &value[i], &fn->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_faas_count(cf, &value[0], &value[i], &v, count)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_faas_queue(ngx_conf_t *cf, ngx_http_faas_function_conf_t *fn)
{
    ngx_str_t   *value, v;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"queue\" in faas_function \"%V\" needs size= "
                           "or timeout=", &fn->name);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_faas_param(&value[i], "size", &v) == NGX_OK) {
            if (ngx_http_faas_count(cf, &value[0], &value[i], &v,
                                    &fn->queue_size)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_faas_param(&value[i], "timeout", &v) == NGX_OK) {
            if (ngx_http_faas_msec(cf, &value[0], &value[i], &v,
                                   &fn->queue_timeout_ms)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (fn->queue_timeout_ms == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" in \"queue\" of faas_function "
                                   "\"%V\" must be more than 0",
                                   &value[i], &fn->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"queue\" of "
                           "faas_function \"%V\"", &value[i], &fn->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_faas_health(ngx_conf_t *cf, ngx_http_faas_function_conf_t *fn)
{
    u_char     *p;
    ngx_str_t  *value;

    value = cf->args->elts;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '#') {
            break;
        }
    }

    if (value[1].len == 0 || value[1].data[0] != '/'
        || value[1].len > NGX_HTTP_FAAS_HEALTH_MAX
        || p != value[1].data + value[1].len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid path \"%V\" in \"health\" of faas_function"
                           " \"%V\", it must start with \"/\" and hold no "
                           "spaces", &value[1], &fn->name);
        return NGX_CONF_ERROR;
    }

    fn->health = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_faas_msec(ngx_conf_t *cf, ngx_str_t *directive, ngx_str_t *word,
    ngx_str_t *value, ngx_msec_t *msec)
{
    ngx_int_t  n;

    if (*msec != NGX_CONF_UNSET_MSEC) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"%V\" in \"%V\"", word, directive);
        return NGX_CONF_ERROR;
    }

    n = ngx_parse_time(value, 0);

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\"", word, directive);
        return NGX_CONF_ERROR;
    }

    *msec = (ngx_msec_t) n;

    return NGX_CONF_OK;
}


/*
 * Checks a function as a whole once its block is read, and fills in the
 * defaults of what it did not set.
 */

static char *
ngx_http_faas_function_done(ngx_conf_t *cf, ngx_http_faas_function_conf_t *fn)
{
    ngx_uint_t                      i, sum, weighted;
    ngx_http_faas_revision_conf_t  *rev;

    rev = fn->revisions.elts;

    if (fn->revisions.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "faas_function \"%V\" has no \"revision\"",
                           &fn->name);
        return NGX_CONF_ERROR;
    }

    fn->weights_pct = ngx_pcalloc(cf->pool,
                                  fn->revisions.nelts * sizeof(unsigned));
    if (fn->weights_pct == NULL) {
        return NGX_CONF_ERROR;
    }

    sum = 0;
    weighted = 0;

    for (i = 0; i < fn->revisions.nelts; i++) {
        if (rev[i].weight_pct != NGX_CONF_UNSET_UINT) {
            sum += rev[i].weight_pct;
            weighted++;
        }
    }

    if (weighted == 0 && fn->revisions.nelts > 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the %ui revisions of faas_function \"%V\" need "
                           "\"weight=\" parameters that sum to 100",
                           fn->revisions.nelts, &fn->name);
        return NGX_CONF_ERROR;
    }

    if (weighted == 0) {
        /* a revision alone needs no weight */
        rev[0].weight_pct = 100;
        sum = 100;
    }

    if (sum != 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "weights of faas_function \"%V\" sum to \"%ui\", "
                           "they must sum to 100", &fn->name, sum);
        return NGX_CONF_ERROR;
    }

    /* a revision without a weight takes no share: it is reached only by
     * pinning it with X-Faas-Revision */

    for (i = 0; i < fn->revisions.nelts; i++) {
        if (rev[i].weight_pct == NGX_CONF_UNSET_UINT) {
            rev[i].weight_pct = 0;
        }

        fn->weights_pct[i] = rev[i].weight_pct;

        /* the array no longer moves: the queue head may point to itself */
        rev[i].function = fn;
        ngx_queue_init(&rev[i].parked);
    }

    ngx_conf_init_uint_value(fn->concurrency, 0);
    ngx_conf_init_uint_value(fn->scale_min, 0);
    ngx_conf_init_uint_value(fn->scale_max, 0);
    ngx_conf_init_uint_value(fn->scale_target, 0);
    ngx_conf_init_msec_value(fn->scale_idle_ms, 60000);
    ngx_conf_init_uint_value(fn->queue_size, 1000);
    ngx_conf_init_msec_value(fn->queue_timeout_ms, 30000);

    if (fn->scale_max && fn->scale_min > fn->scale_max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"scale\" of faas_function \"%V\" has "
                           "\"min=%ui\" above \"max=%ui\"",
                           &fn->name, fn->scale_min, fn->scale_max);
        return NGX_CONF_ERROR;
    }

    if (fn->concurrency && fn->scale_target > fn->concurrency) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"scale\" of faas_function \"%V\" has "
                           "\"target=%ui\" above \"concurrency %ui\"",
                           &fn->name, fn->scale_target, fn->concurrency);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Matches a "name=value" parameter.  Returns NGX_OK with *value set when
 * word starts with "name=".
 */

static ngx_int_t
ngx_http_faas_param(ngx_str_t *word, const char *name, ngx_str_t *value)
{
    size_t  len;

    len = ngx_strlen(name);

    if (word->len <= len || word->data[len] != '='
        || ngx_strncmp(word->data, name, len) != 0)
    {
        return NGX_DECLINED;
    }

    value->data = word->data + len + 1;
    value->len = word->len - len - 1;

    return NGX_OK;
}


char *
ngx_http_faas_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_faas_loc_conf_t *flcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_faas_main_conf_t         *fmcf;
    ngx_http_faas_static_pass_t       *sp;
    ngx_http_compile_complex_value_t   ccv;

    if (flcf->pass != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    flcf->pass = 1;

    value = cf->args->elts;
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_faas_module);

    fmcf->pass_used = 1;

    if (cf->args->nelts == 1) {

#if (NGX_PCRE)
        if (clcf->regex) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"faas_pass\" without a function name takes "
                               "it from the path after a prefix location, "
                               "not a regex location \"%V\"", &clcf->name);
            return NGX_CONF_ERROR;
        }
#endif

        if (clcf->exact_match || clcf->named || clcf->noname) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"faas_pass\" without a function name takes "
                               "it from the path after a prefix location, "
                               "not location \"%V\"", &clcf->name);
            return NGX_CONF_ERROR;
        }

        flcf->location = clcf->name;

        return NGX_CONF_OK;
    }

    if (ngx_http_script_variables_count(&value[1]) == 0) {
        if (!ngx_http_faas_valid_name(value[1].data, value[1].len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid function name \"%V\" in \"faas_pass\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        if (fmcf->static_passes == NULL) {
            fmcf->static_passes =
                ngx_array_create(cf->temp_pool, 4,
                                 sizeof(ngx_http_faas_static_pass_t));
            if (fmcf->static_passes == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        sp = ngx_array_push(fmcf->static_passes);
        if (sp == NULL) {
            return NGX_CONF_ERROR;
        }

        sp->name = value[1];
        sp->file = cf->conf_file->file.name;
        sp->line = cf->conf_file->line;
    }

    flcf->pass_name = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (flcf->pass_name == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = flcf->pass_name;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_faas_status_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_faas_main_conf_t  *fmcf;

    ngx_http_faas_loc_conf_t *flcf = conf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (flcf->status) {
        return "is duplicate";
    }

    if (clcf->handler) {
        return "conflicts with another content handler in this location";
    }

    clcf->handler = ngx_http_faas_status_handler;
    flcf->status = 1;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_faas_module);
    fmcf->pass_used = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_faas_balancer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upstream_server_t    *placeholder;
    ngx_http_upstream_srv_conf_t  *uscf;
    ngx_http_faas_main_conf_t     *fmcf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream == ngx_http_faas_upstream_init) {
        return "is duplicate";
    }

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"faas_balancer\" must come first in upstream "
                           "\"%V\": another balancer or \"keepalive\" is set "
                           "before it", &uscf->host);
        return NGX_CONF_ERROR;
    }

    uscf->peer.init_upstream = ngx_http_faas_upstream_init;

    /* nginx refuses an upstream without servers; the peers of this one are
     * the ready replicas, so an empty entry stands in for them */

    placeholder = ngx_array_push(uscf->servers);
    if (placeholder == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(placeholder, sizeof(ngx_http_upstream_server_t));

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_faas_module);
    fmcf->pass_used = 1;

    return NGX_CONF_OK;
}


/*
 * Runs when the http block has been read: checks what depends on several
 * directives and builds the function lookup table.
 */

ngx_int_t
ngx_http_faas_functions_init(ngx_conf_t *cf, ngx_http_faas_main_conf_t *fmcf)
{
    ngx_uint_t                       i;
    ngx_hash_init_t                  hash;
    ngx_hash_keys_arrays_t           keys;
    ngx_http_faas_function_conf_t  **fnp;

    fnp = fmcf->functions.elts;

    if (fmcf->functions.nelts || fmcf->pass_used) {
        if (fmcf->shm_zone == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"faas_function\", \"faas_pass\", "
                               "\"faas_balancer\" and \"faas_status\" need "
                               "\"faas_zone\" in the http block");
            return NGX_ERROR;
        }

        if (fmcf->redis == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"faas_function\", \"faas_pass\", "
                               "\"faas_balancer\" and \"faas_status\" need "
                               "\"faas_redis\" in the http block");
            return NGX_ERROR;
        }
    }

    if (fmcf->functions.nelts == 0) {
        return ngx_http_faas_check_passes(cf, fmcf);
    }

    ngx_memzero(&keys, sizeof(ngx_hash_keys_arrays_t));

    keys.pool = cf->pool;
    keys.temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(&keys, fmcf->functions.nelts > 100
                                        ? NGX_HASH_LARGE : NGX_HASH_SMALL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < fmcf->functions.nelts; i++) {
        if (ngx_hash_add_key(&keys, &fnp[i]->name, fnp[i],
                             NGX_HASH_READONLY_KEY)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    hash.hash = &fmcf->functions_hash;
    hash.key = ngx_hash_key;
    /* a bucket must hold the longest name with its pointer and length */
    hash.max_size = 64 * 1024;
    hash.bucket_size = ngx_align(NGX_HTTP_FAAS_NAME_MAX + 2 * sizeof(void *),
                                 ngx_cacheline_size);
    hash.name = "faas_functions_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    if (ngx_hash_init(&hash, keys.keys.elts, keys.keys.nelts) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_faas_check_passes(cf, fmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_faas_check_passes(ngx_conf_t *cf, ngx_http_faas_main_conf_t *fmcf)
{
    ngx_uint_t                    i;
    ngx_http_faas_static_pass_t  *sp;

    if (fmcf->static_passes == NULL) {
        return NGX_OK;
    }

    sp = fmcf->static_passes->elts;

    for (i = 0; i < fmcf->static_passes->nelts; i++) {
        if (ngx_http_faas_function_find(fmcf, sp[i].name.data, sp[i].name.len)
            == NULL)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown function \"%V\" in \"faas_pass\" in %V:%ui",
                          &sp[i].name, &sp[i].file, sp[i].line);
            return NGX_ERROR;
        }
    }

    /* the array lives in the temporary pool of the configuration */
    fmcf->static_passes = NULL;

    return NGX_OK;
}


ngx_http_faas_function_conf_t *
ngx_http_faas_function_find(ngx_http_faas_main_conf_t *fmcf, u_char *name,
    size_t len)
{
    if (fmcf->functions.nelts == 0) {
        return NULL;
    }

    return ngx_hash_find(&fmcf->functions_hash, ngx_hash_key(name, len),
                         name, len);
}


ngx_http_faas_revision_conf_t *
ngx_http_faas_revision_find(ngx_http_faas_function_conf_t *fn, u_char *name,
    size_t len)
{
    ngx_uint_t                      i;
    ngx_http_faas_revision_conf_t  *rev;

    rev = fn->revisions.elts;

    for (i = 0; i < fn->revisions.nelts; i++) {
        if (rev[i].name.len == len
            && ngx_strncmp(rev[i].name.data, name, len) == 0)
        {
            return &rev[i];
        }
    }

    return NULL;
}

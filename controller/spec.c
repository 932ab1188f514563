/*
 * Copyright (C) nginx-faas developers
 *
 * The spec JSON written by the module (ngx_http_faas_spec.c) into structs.
 * Everything read from Redis is untrusted: every field is checked for type
 * and range, and a spec that fails any check is refused whole, so that the
 * controller never runs half of what was declared.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fail.h"
#include "spec.h"


#define FAAS_SPEC_INT_MAX  1000000000


int
faas_spec_valid_label(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > FAAS_NAME_MAX || s[0] == '-' || s[len - 1] == '-') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
faas_spec_valid_token(const char *s, size_t max)
{
    size_t  i;

    if (s == NULL) {
        return 0;
    }

    for (i = 0; s[i]; i++) {
        if (i == max) {
            return 0;
        }

        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
            || (s[i] >= '0' && s[i] <= '9'))
        {
            continue;
        }

        if (i == 0 || !strchr("._-", s[i])) {
            return 0;
        }
    }

    return i > 0;
}


int
faas_spec_valid_replica_id(const char *s)
{
    return faas_spec_valid_token(s, FAAS_REPLICA_ID_MAX);
}


void
faas_spec_replica_id(char *id, const char *function, const char *revision,
    uint32_t nonce)
{
    int  cut;

    /* 63 + 1 + 63 + 1 + 8 can exceed 64: cutting both names to 27 keeps
     * the id readable and within bounds */

    cut = (strlen(function) + strlen(revision) + 10 > FAAS_REPLICA_ID_MAX)
          ? 27 : FAAS_NAME_MAX;

    snprintf(id, FAAS_REPLICA_ID_MAX + 1, "%.*s-%.*s-%08x", cut, function,
             cut, revision, (unsigned) nonce);
}


int
faas_spec_split_names(const char *s, size_t len, char sep, char *fn,
    char *rev)
{
    const char  *p;
    size_t       fnlen, revlen;

    p = memchr(s, sep, len);

    if (p == NULL) {
        return -1;
    }

    fnlen = (size_t) (p - s);
    revlen = len - fnlen - 1;

    if (!faas_spec_valid_label(s, fnlen)
        || !faas_spec_valid_label(p + 1, revlen))
    {
        return -1;
    }

    memcpy(fn, s, fnlen);
    fn[fnlen] = '\0';
    memcpy(rev, p + 1, revlen);
    rev[revlen] = '\0';

    return 0;
}


/* an integer member in [min, max]; absent members are an error */

static int
faas_spec_int(const cJSON *obj, const char *key, long long min,
    long long max, long long *out, char *err, size_t errlen)
{
    double        d;
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(item)) {
        return faas_fail(err, errlen, "\"%s\" is missing or not a number",
                         key);
    }

    d = item->valuedouble;

    if (d != (double) (long long) d || d < (double) min || d > (double) max) {
        return faas_fail(err, errlen, "\"%s\" is out of range", key);
    }

    *out = (long long) d;

    return 0;
}


/* an optional string member; a member of another type is an error */

static int
faas_spec_string(const cJSON *obj, const char *key, const char **out,
    char *err, size_t errlen)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;

    if (item == NULL) {
        return 0;
    }

    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        return faas_fail(err, errlen, "\"%s\" is not a string", key);
    }

    *out = item->valuestring;

    return 0;
}


static int
faas_spec_valid_env_name(const char *s)
{
    size_t  i;

    for (i = 0; s[i]; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || s[i] == '_' || (i > 0 && s[i] >= '0' && s[i] <= '9')))
        {
            return 0;
        }
    }

    return i > 0;
}


/* the path goes into a request line: printable ASCII, no spaces */

static int
faas_spec_valid_health(const char *s)
{
    size_t  i;

    if (s[0] == '\0') {
        return 1;
    }

    if (s[0] != '/') {
        return 0;
    }

    for (i = 0; s[i]; i++) {
        if (i == FAAS_HEALTH_MAX || s[i] <= ' ' || s[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


static int
faas_spec_revisions(const cJSON *root, faas_spec_t *spec, char *err,
    size_t errlen)
{
    char                   why[FAAS_REASON_MAX];
    size_t                 i, k;
    long long              weight;
    const char            *name, *exec, *image;
    const cJSON           *array, *item;
    faas_spec_revision_t  *rev;

    array = cJSON_GetObjectItemCaseSensitive(root, "revisions");

    if (!cJSON_IsArray(array) || cJSON_GetArraySize(array) == 0) {
        return faas_fail(err, errlen, "\"revisions\" is missing or "
                         "empty");
    }

    spec->nrevisions = (size_t) cJSON_GetArraySize(array);
    spec->revisions = calloc(spec->nrevisions, sizeof(faas_spec_revision_t));

    if (spec->revisions == NULL) {
        return faas_fail(err, errlen, "out of memory");
    }

    i = 0;

    cJSON_ArrayForEach(item, array) {
        rev = &spec->revisions[i];

        if (!cJSON_IsObject(item)
            || faas_spec_string(item, "name", &name, why, sizeof(why)) != 0
            || faas_spec_string(item, "exec", &exec, why, sizeof(why)) != 0
            || faas_spec_string(item, "image", &image, why, sizeof(why)) != 0
            || faas_spec_int(item, "weight", 0, 100, &weight, why,
                             sizeof(why)) != 0)
        {
            return faas_fail(err, errlen, "revision %zu: %s", i + 1,
                             cJSON_IsObject(item) ? why
                             : "not an object");
        }

        if (name == NULL || !faas_spec_valid_label(name, strlen(name))) {
            return faas_fail(err, errlen, "revision %zu: the name is not "
                             "a DNS label", i + 1);
        }

        for (k = 0; k < i; k++) {
            if (strcmp(spec->revisions[k].name, name) == 0) {
                return faas_fail(err, errlen, "revision \"%s\" is "
                                 "declared twice", name);
            }
        }

        strcpy(rev->name, name);
        rev->weight_pct = (int) weight;

        if ((exec && (rev->exec = strdup(exec)) == NULL)
            || (image && (rev->image = strdup(image)) == NULL))
        {
            return faas_fail(err, errlen, "out of memory");
        }

        i++;
    }

    return 0;
}


static int
faas_spec_env(const cJSON *root, faas_spec_t *spec, char *err, size_t errlen)
{
    size_t        n, len;
    const cJSON  *env, *item;

    env = cJSON_GetObjectItemCaseSensitive(root, "env");

    if (env != NULL && !cJSON_IsObject(env)) {
        return faas_fail(err, errlen, "\"env\" is not an object");
    }

    n = env ? (size_t) cJSON_GetArraySize(env) : 0;

    spec->env = calloc(n + 1, sizeof(char *));

    if (spec->env == NULL) {
        return faas_fail(err, errlen, "out of memory");
    }

    n = 0;

    cJSON_ArrayForEach(item, env) {
        if (!faas_spec_valid_env_name(item->string)) {
            return faas_fail(err, errlen, "\"env\": bad variable name");
        }

        if (!cJSON_IsString(item) || item->valuestring == NULL) {
            return faas_fail(err, errlen, "\"env\": \"%s\" is not a "
                             "string", item->string);
        }

        len = strlen(item->string) + strlen(item->valuestring) + 2;

        spec->env[n] = malloc(len);

        if (spec->env[n] == NULL) {
            return faas_fail(err, errlen, "out of memory");
        }

        snprintf(spec->env[n], len, "%s=%s", item->string, item->valuestring);
        n++;
    }

    return 0;
}


static int
faas_spec_numbers(const cJSON *root, faas_spec_t *spec, char *err,
    size_t errlen)
{
    long long     n;
    const cJSON  *scale, *queue;

    scale = cJSON_GetObjectItemCaseSensitive(root, "scale");
    queue = cJSON_GetObjectItemCaseSensitive(root, "queue");

    if (!cJSON_IsObject(scale) || !cJSON_IsObject(queue)) {
        return faas_fail(err, errlen, "\"scale\" or \"queue\" is missing");
    }

    if (faas_spec_int(root, "concurrency", 0, FAAS_SPEC_INT_MAX, &n, err,
                      errlen) != 0)
    {
        return -1;
    }

    spec->concurrency = (int) n;

    if (faas_spec_int(scale, "min", 0, FAAS_SPEC_INT_MAX, &n, err, errlen)
        != 0)
    {
        return -1;
    }

    spec->scale_min = (int) n;

    if (faas_spec_int(scale, "max", 0, FAAS_SPEC_INT_MAX, &n, err, errlen)
        != 0)
    {
        return -1;
    }

    spec->scale_max = (int) n;

    if (faas_spec_int(scale, "target", 0, FAAS_SPEC_INT_MAX, &n, err, errlen)
        != 0
        || faas_spec_int(scale, "idle_ms", 0, 1000LL * FAAS_SPEC_INT_MAX,
                         &spec->scale_idle_ms, err, errlen) != 0)
    {
        return -1;
    }

    spec->scale_target = (int) n;

    if (faas_spec_int(queue, "size", 0, FAAS_SPEC_INT_MAX, &n, err, errlen)
        != 0
        || faas_spec_int(queue, "timeout_ms", 0, 1000LL * FAAS_SPEC_INT_MAX,
                         &spec->queue_timeout_ms, err, errlen) != 0)
    {
        return -1;
    }

    spec->queue_size = (int) n;

    if (spec->scale_max && spec->scale_max < spec->scale_min) {
        return faas_fail(err, errlen, "scale max %d is below min %d",
                         spec->scale_max, spec->scale_min);
    }

    return 0;
}


int
faas_spec_parse(const char *name, const char *json, size_t len,
    faas_spec_t *spec, char *err, size_t errlen)
{
    int           rc;
    long long     schema;
    cJSON        *root;
    const char   *fname, *health;

    memset(spec, 0, sizeof(faas_spec_t));

    root = cJSON_ParseWithLength(json, len);

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return faas_fail(err, errlen, "not a JSON object");
    }

    rc = -1;

    if (faas_spec_int(root, "schema", 0, FAAS_SPEC_INT_MAX, &schema, err,
                      errlen) != 0)
    {
        goto done;
    }

    if (schema != FAAS_SPEC_SCHEMA) {
        faas_fail(err, errlen, "schema %lld is not %d", schema,
                  FAAS_SPEC_SCHEMA);
        goto done;
    }

    if (faas_spec_string(root, "name", &fname, err, errlen) != 0) {
        goto done;
    }

    if (fname == NULL || !faas_spec_valid_label(fname, strlen(fname))) {
        faas_fail(err, errlen, "the name is not a DNS label");
        goto done;
    }

    if (strcmp(fname, name) != 0) {
        faas_fail(err, errlen, "the name \"%s\" differs from the field",
                  fname);
        goto done;
    }

    strcpy(spec->name, fname);

    if (faas_spec_string(root, "health", &health, err, errlen) != 0) {
        goto done;
    }

    if (health && !faas_spec_valid_health(health)) {
        faas_fail(err, errlen, "\"health\" is not a path of printable "
                  "characters starting with \"/\"");
        goto done;
    }

    strcpy(spec->health, health ? health : "");

    if (faas_spec_revisions(root, spec, err, errlen) != 0
        || faas_spec_env(root, spec, err, errlen) != 0
        || faas_spec_numbers(root, spec, err, errlen) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    cJSON_Delete(root);

    if (rc != 0) {
        faas_spec_free(spec);
    }

    return rc;
}


void
faas_spec_free(faas_spec_t *spec)
{
    size_t  i;

    for (i = 0; i < spec->nrevisions && spec->revisions; i++) {
        free(spec->revisions[i].exec);
        free(spec->revisions[i].image);
    }

    for (i = 0; spec->env && spec->env[i]; i++) {
        free(spec->env[i]);
    }

    free(spec->revisions);
    free(spec->env);

    memset(spec, 0, sizeof(faas_spec_t));
}


static int
faas_spec_same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}


int
faas_spec_equal(const faas_spec_t *a, const faas_spec_t *b)
{
    size_t  i;

    if (strcmp(a->name, b->name) != 0 || a->nrevisions != b->nrevisions
        || a->concurrency != b->concurrency || a->scale_min != b->scale_min
        || a->scale_max != b->scale_max || a->scale_target != b->scale_target
        || a->scale_idle_ms != b->scale_idle_ms
        || a->queue_size != b->queue_size
        || a->queue_timeout_ms != b->queue_timeout_ms
        || strcmp(a->health, b->health) != 0)
    {
        return 0;
    }

    for (i = 0; i < a->nrevisions; i++) {
        if (strcmp(a->revisions[i].name, b->revisions[i].name) != 0
            || a->revisions[i].weight_pct != b->revisions[i].weight_pct
            || !faas_spec_same_string(a->revisions[i].exec,
                                      b->revisions[i].exec)
            || !faas_spec_same_string(a->revisions[i].image,
                                      b->revisions[i].image))
        {
            return 0;
        }
    }

    for (i = 0; a->env[i] || b->env[i]; i++) {
        if (!faas_spec_same_string(a->env[i], b->env[i])) {
            return 0;
        }
    }

    return 1;
}

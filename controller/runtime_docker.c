/*
 * Copyright (C) nginx-faas developers
 *
 * The "docker" runtime: every replica is a container, made through the
 * Docker Engine API over a unix socket with libcurl and cJSON.  The same
 * calls work against dockerd and against Podman's Docker-compatible service
 * (both accept API version 1.41, dockerd from 20.10 on, Podman from 4.0).
 *
 * A replica's container is named faas-<replica_id>, runs the image's own
 * command with host networking (it listens on 127.0.0.1:PORT), no restart
 * policy, and the environment PORT, port, FAAS_FUNCTION, FAAS_REVISION and
 * the function's env.  Labels say who it belongs to: faas.managed=1,
 * faas.function, faas.revision, faas.replica, faas.port; list() finds the
 * replicas by the first one.  The handle is the container id.
 *
 * Images are never pulled: nothing here calls /images/create, and the
 * engine's create does not pull either, it answers 404, which becomes an
 * error naming the image.
 *
 * Each call uses an easy handle of its own, so that any number of threads
 * may call at once; every request has a timeout.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "fail.h"
#include "spec.h"
#include "runtime.h"


#define FAAS_DOCKER_API              "/v1.41"
#define FAAS_DOCKER_TIMEOUT_MS       10000
#define FAAS_DOCKER_STOP_EXTRA_MS    30000   /* beyond the grace period */
#define FAAS_DOCKER_CONNECT_MS       5000
#define FAAS_DOCKER_BODY_MAX         ((size_t) 16 * 1024 * 1024)
#define FAAS_DOCKER_NAME_PREFIX      "faas-"

/* filters={"label":["faas.managed=1"]}, URL-encoded */
#define FAAS_DOCKER_MANAGED_FILTER                                           \
    "filters=%7B%22label%22%3A%5B%22faas.managed%3D1%22%5D%7D"


typedef struct {
    char  *socket_path;
} faas_docker_t;


typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      too_big;
} faas_docker_buf_t;


static int faas_docker_start(faas_runtime_t *rt,
    const faas_replica_spec_t *spec, char *handle, size_t handle_len,
    char *err, size_t errlen);
static int faas_docker_stop(faas_runtime_t *rt, const char *handle,
    int grace_ms, char *err, size_t errlen);
static int faas_docker_inspect(faas_runtime_t *rt, const char *handle,
    faas_replica_info_t *info, char *err, size_t errlen);
static int faas_docker_list(faas_runtime_t *rt, faas_replica_info_t **list,
    size_t *n, char *err, size_t errlen);
static void faas_docker_free(faas_runtime_t *rt);



/* ---- HTTP over the engine's socket --------------------------------------- */


static size_t
faas_docker_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    faas_docker_buf_t  *b = userdata;
    size_t              n, cap;
    char               *grown;

    n = size * nmemb;

    if (b->len + n + 1 > FAAS_DOCKER_BODY_MAX) {
        b->too_big = 1;
        return 0;              /* makes curl fail the transfer */
    }

    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        grown = realloc(b->data, cap);
        if (grown == NULL) {
            return 0;
        }
        b->data = grown;
        b->cap = cap;
    }

    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';

    return n;
}


/*
 * One request: method on path (under the API version), with an optional
 * JSON body.  On success returns 0 with *status the HTTP status and resp
 * the body (NUL-terminated, possibly empty; the caller frees resp->data),
 * whatever the status; returns -1 with err filled if no answer came.
 */
static int
faas_docker_request(faas_docker_t *d, const char *method, const char *path,
    const char *body, long timeout_ms, long *status, faas_docker_buf_t *resp,
    char *err, size_t errlen)
{
    CURL               *curl;
    CURLcode            rc;
    struct curl_slist  *headers;
    char                url[1024], errbuf[CURL_ERROR_SIZE];

    memset(resp, 0, sizeof(*resp));
    *status = 0;

    if ((size_t) snprintf(url, sizeof(url), "http://localhost%s%s",
                          FAAS_DOCKER_API, path) >= sizeof(url))
    {
        return faas_fail(err, errlen, "docker: URL too long");
    }

    curl = curl_easy_init();
    if (curl == NULL) {
        return faas_fail(err, errlen, "docker: curl_easy_init failed");
    }

    headers = NULL;
    errbuf[0] = '\0';

    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) FAAS_DOCKER_CONNECT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, faas_docker_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);

    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                         (long) (body != NULL ? strlen(body) : 0));
        headers = curl_slist_append(headers, "Expect:");
        if (body != NULL) {
            headers = curl_slist_append(headers,
                                        "Content-Type: application/json");
        }
        if (headers == NULL) {
            curl_easy_cleanup(curl);
            return faas_fail(err, errlen, "docker: out of memory");
        }
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }

    rc = curl_easy_perform(curl);

    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    }

    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);

    if (rc != CURLE_OK) {
        faas_fail(err, errlen, "docker: %s %s via %s: %s", method,
                  path, d->socket_path,
                  resp->too_big ? "answer too large"
                  : errbuf[0] ? errbuf : curl_easy_strerror(rc));
        free(resp->data);
        memset(resp, 0, sizeof(*resp));
        return -1;
    }

    if (resp->data == NULL) {
        resp->data = calloc(1, 1);
        if (resp->data == NULL) {
            return faas_fail(err, errlen, "docker: out of memory");
        }
    }

    return 0;
}


/* The engine's "message" of an error answer, else the start of the body. */
static void
faas_docker_message(const faas_docker_buf_t *resp, char *out, size_t len)
{
    cJSON        *json;
    const cJSON  *msg;
    size_t        i;

    json = cJSON_ParseWithLength(resp->data, resp->len);
    msg = cJSON_GetObjectItemCaseSensitive(json, "message");

    if (cJSON_IsString(msg) && msg->valuestring != NULL) {
        snprintf(out, len, "%s", msg->valuestring);

    } else {
        snprintf(out, len, "%.200s", resp->data != NULL ? resp->data : "");
    }

    cJSON_Delete(json);

    /* one line */
    for (i = 0; out[i] != '\0'; i++) {
        if (out[i] == '\n' || out[i] == '\r') {
            out[i] = ' ';
        }
    }
}


static int
faas_docker_http_error(const char *what, long status,
    const faas_docker_buf_t *resp, char *err, size_t errlen)
{
    char  msg[512];

    faas_docker_message(resp, msg, sizeof(msg));

    return faas_fail(err, errlen, "docker: %s: HTTP %ld: %s", what,
                     status, msg);
}


/* ---- labels and states --------------------------------------------------- */


static const char *
faas_docker_label(const cJSON *labels, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(labels, name);

    return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}


/* Fills the names, handle, port and address of info from the labels. */
static void
faas_docker_info_from_labels(const cJSON *labels, const char *id,
    faas_replica_info_t *info)
{
    long  port;

    memset(info, 0, sizeof(*info));

    snprintf(info->function, sizeof(info->function), "%s",
             faas_docker_label(labels, "faas.function"));
    snprintf(info->revision, sizeof(info->revision), "%s",
             faas_docker_label(labels, "faas.revision"));
    snprintf(info->replica_id, sizeof(info->replica_id), "%s",
             faas_docker_label(labels, "faas.replica"));
    snprintf(info->handle, sizeof(info->handle), "%s", id);

    port = strtol(faas_docker_label(labels, "faas.port"), NULL, 10);
    if (port > 0 && port <= 65535) {
        info->port = (int) port;
        snprintf(info->address, sizeof(info->address), "127.0.0.1:%ld",
                 port);
    }
}


/* Fills running and exit_reason of info from an inspect answer's State. */
static void
faas_docker_info_from_state(const cJSON *state, faas_replica_info_t *info)
{
    const cJSON  *running, *code, *error, *oom, *status;
    long          exit_code;

    running = cJSON_GetObjectItemCaseSensitive(state, "Running");
    code = cJSON_GetObjectItemCaseSensitive(state, "ExitCode");
    error = cJSON_GetObjectItemCaseSensitive(state, "Error");
    oom = cJSON_GetObjectItemCaseSensitive(state, "OOMKilled");
    status = cJSON_GetObjectItemCaseSensitive(state, "Status");

    info->running = cJSON_IsTrue(running);
    if (info->running) {
        return;
    }

    exit_code = cJSON_IsNumber(code) ? (long) code->valuedouble : -1;

    if (cJSON_IsTrue(oom)) {
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "killed for lack of memory (OOM), exit status %ld",
                 exit_code);

    } else if (cJSON_IsString(error) && error->valuestring != NULL
               && error->valuestring[0] != '\0')
    {
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "failed: %.200s", error->valuestring);

    } else if (cJSON_IsString(status)
               && strcmp(status->valuestring, "created") == 0)
    {
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "created, never started");

    } else if (exit_code > 128 && exit_code < 128 + 65) {
        /* the engines report a death by signal N as 128 + N */
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "exited with status %ld (killed by signal %ld)", exit_code,
                 exit_code - 128);

    } else {
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "exited with status %ld", exit_code);
    }
}


/* ---- start --------------------------------------------------------------- */


static int
faas_docker_env_is(const char *e, const char *name)
{
    size_t  len;

    len = strlen(name);

    return strncmp(e, name, len) == 0 && e[len] == '=';
}


/* The body of POST /containers/create, or NULL with err filled. */
static char *
faas_docker_create_body(const faas_replica_spec_t *spec, char *err,
    size_t errlen)
{
    cJSON        *root, *env, *labels, *host, *restart;
    char          port[16], entry[128], *body;
    const char   *e;
    size_t        i;
    int           ok;

    snprintf(port, sizeof(port), "%d", spec->port);

    root = cJSON_CreateObject();
    env = cJSON_AddArrayToObject(root, "Env");
    labels = cJSON_AddObjectToObject(root, "Labels");
    host = cJSON_AddObjectToObject(root, "HostConfig");
    restart = cJSON_AddObjectToObject(host, "RestartPolicy");

    ok = root != NULL && env != NULL && labels != NULL && host != NULL
         && restart != NULL
         && cJSON_AddStringToObject(root, "Image", spec->image) != NULL
         && cJSON_AddStringToObject(host, "NetworkMode", "host") != NULL
         && cJSON_AddStringToObject(restart, "Name", "no") != NULL
         && cJSON_AddStringToObject(labels, "faas.managed", "1") != NULL
         && cJSON_AddStringToObject(labels, "faas.function", spec->function)
            != NULL
         && cJSON_AddStringToObject(labels, "faas.revision", spec->revision)
            != NULL
         && cJSON_AddStringToObject(labels, "faas.replica", spec->replica_id)
            != NULL
         && cJSON_AddStringToObject(labels, "faas.port", port) != NULL;

    /* ours first; the function's entries may not override them */
    snprintf(entry, sizeof(entry), "PORT=%d", spec->port);
    ok = ok && cJSON_AddItemToArray(env, cJSON_CreateString(entry));
    snprintf(entry, sizeof(entry), "port=%d", spec->port);
    ok = ok && cJSON_AddItemToArray(env, cJSON_CreateString(entry));
    snprintf(entry, sizeof(entry), "FAAS_FUNCTION=%s", spec->function);
    ok = ok && cJSON_AddItemToArray(env, cJSON_CreateString(entry));
    snprintf(entry, sizeof(entry), "FAAS_REVISION=%s", spec->revision);
    ok = ok && cJSON_AddItemToArray(env, cJSON_CreateString(entry));

    for (i = 0; ok && spec->env != NULL && spec->env[i] != NULL; i++) {
        e = spec->env[i];

        if (e[0] == '=' || strchr(e, '=') == NULL) {
            cJSON_Delete(root);
            faas_fail(err, errlen,
                      "env entry \"%.64s\" is not NAME=value", e);
            return NULL;
        }

        if (faas_docker_env_is(e, "PORT") || faas_docker_env_is(e, "port")
            || faas_docker_env_is(e, "FAAS_FUNCTION")
            || faas_docker_env_is(e, "FAAS_REVISION"))
        {
            continue;
        }

        ok = cJSON_AddItemToArray(env, cJSON_CreateString(e));
    }

    body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);

    if (body == NULL) {
        faas_fail(err, errlen, "out of memory");
    }

    return body;
}


static int
faas_docker_remove(faas_docker_t *d, const char *id, char *err,
    size_t errlen)
{
    faas_docker_buf_t  resp;
    char               path[256];
    long               status;
    int                rc;

    snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", id);

    if (faas_docker_request(d, "DELETE", path, NULL, FAAS_DOCKER_TIMEOUT_MS,
                            &status, &resp, err, errlen) != 0)
    {
        return -1;
    }

    /* 404: gone already; 409: its removal is in progress */
    rc = 0;
    if (status != 204 && status != 200 && status != 404 && status != 409) {
        rc = faas_docker_http_error("remove container", status, &resp, err,
                                    errlen);
    }

    free(resp.data);

    return rc;
}


static int
faas_docker_start(faas_runtime_t *rt, const faas_replica_spec_t *spec,
    char *handle, size_t handle_len, char *err, size_t errlen)
{
    faas_docker_t      *d = rt->data;
    faas_docker_buf_t   resp;
    cJSON              *json;
    const cJSON        *id;
    char               *body, path[256], cid[FAAS_HANDLE_MAX], msg[512];
    char                ignored[64];
    long                status;

    if (spec->function == NULL || spec->function[0] == '\0'
        || strlen(spec->function) > FAAS_NAME_MAX
        || spec->revision == NULL || spec->revision[0] == '\0'
        || strlen(spec->revision) > FAAS_NAME_MAX)
    {
        return faas_fail(err, errlen,
                         "bad function or revision name");
    }

    if (!faas_spec_valid_replica_id(spec->replica_id)) {
        return faas_fail(err, errlen,
                         "bad replica id \"%.80s\": 1 to %d of "
                         "[A-Za-z0-9._-], not starting with '.' or "
                         "'-'", spec->replica_id ? spec->replica_id
                         : "",
                         FAAS_REPLICA_ID_MAX);
    }

    if (spec->image == NULL || spec->image[0] == '\0') {
        return faas_fail(err, errlen, "no image given");
    }

    if (spec->port < 1 || spec->port > 65535) {
        return faas_fail(err, errlen, "bad port %d", spec->port);
    }

    body = faas_docker_create_body(spec, err, errlen);
    if (body == NULL) {
        return -1;
    }

    snprintf(path, sizeof(path), "/containers/create?name=%s%s",
             FAAS_DOCKER_NAME_PREFIX, spec->replica_id);

    if (faas_docker_request(d, "POST", path, body, FAAS_DOCKER_TIMEOUT_MS,
                            &status, &resp, err, errlen) != 0)
    {
        cJSON_free(body);
        return -1;
    }

    cJSON_free(body);

    if (status == 404) {
        /* the only thing create can miss is the image */
        faas_docker_message(&resp, msg, sizeof(msg));
        free(resp.data);
        return faas_fail(err, errlen,
                         "image %s not found: build or load it; "
                         "images are never pulled (engine: %s)",
                         spec->image, msg);
    }

    /* dockerd says 409, Podman 500 */
    if (status == 409
        || (status == 500 && (faas_docker_message(&resp, msg, sizeof(msg)),
                              strstr(msg, "already in use") != NULL)))
    {
        faas_docker_message(&resp, msg, sizeof(msg));
        free(resp.data);
        return faas_fail(err, errlen,
                         "container %s%s exists already: stop that "
                         "replica first (engine: %s)",
                         FAAS_DOCKER_NAME_PREFIX, spec->replica_id,
                         msg);
    }

    if (status != 201 && status != 200) {
        faas_docker_http_error("create container", status, &resp, err,
                               errlen);
        free(resp.data);
        return -1;
    }

    json = cJSON_ParseWithLength(resp.data, resp.len);
    id = cJSON_GetObjectItemCaseSensitive(json, "Id");

    if (!cJSON_IsString(id)
        || !faas_spec_valid_token(id->valuestring, sizeof(cid) - 1))
    {
        cJSON_Delete(json);
        free(resp.data);
        snprintf(cid, sizeof(cid), "%s%s", FAAS_DOCKER_NAME_PREFIX,
                 spec->replica_id);
        faas_docker_remove(d, cid, ignored, sizeof(ignored));
        return faas_fail(err, errlen,
                         "docker: create container: no Id in the "
                         "answer");
    }

    snprintf(cid, sizeof(cid), "%s", id->valuestring);
    cJSON_Delete(json);
    free(resp.data);

    snprintf(path, sizeof(path), "/containers/%s/start", cid);

    if (faas_docker_request(d, "POST", path, NULL, FAAS_DOCKER_TIMEOUT_MS,
                            &status, &resp, err, errlen) != 0)
    {
        faas_docker_remove(d, cid, ignored, sizeof(ignored));
        return -1;
    }

    if (status != 204 && status != 304 && status != 200) {
        faas_docker_http_error("start container", status, &resp, err,
                               errlen);
        free(resp.data);
        faas_docker_remove(d, cid, ignored, sizeof(ignored));
        return -1;
    }

    free(resp.data);

    if ((size_t) snprintf(handle, handle_len, "%s", cid) >= handle_len) {
        faas_docker_remove(d, cid, ignored, sizeof(ignored));
        return faas_fail(err, errlen, "handle buffer too small");
    }

    return 0;
}


/* ---- stop, inspect, list ------------------------------------------------- */


static int
faas_docker_stop(faas_runtime_t *rt, const char *handle, int grace_ms,
    char *err, size_t errlen)
{
    faas_docker_t      *d = rt->data;
    faas_docker_buf_t   resp;
    char                path[256], stop_err[512];
    long                status;
    int                 grace_s;

    if (!faas_spec_valid_token(handle, FAAS_HANDLE_MAX - 1)) {
        return faas_fail(err, errlen, "bad handle \"%.32s\"",
                         handle ? handle : "");
    }

    grace_s = grace_ms <= 0 ? 0 : (grace_ms + 999) / 1000;

    snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", handle, grace_s);

    stop_err[0] = '\0';

    if (faas_docker_request(d, "POST", path, NULL,
                            (long) grace_s * 1000 + FAAS_DOCKER_STOP_EXTRA_MS,
                            &status, &resp, stop_err, sizeof(stop_err)) == 0)
    {
        if (status == 404) {
            free(resp.data);
            return 0;          /* gone already */
        }

        /* 204 stopped, 304 was not running */
        if (status != 204 && status != 304) {
            faas_docker_http_error("stop container", status, &resp, stop_err,
                                   sizeof(stop_err));
        }

        free(resp.data);
    }

    /* removing it by force also kills it if the stop failed */
    if (faas_docker_remove(d, handle, err, errlen) != 0) {
        if (stop_err[0] != '\0') {
            faas_fail(err, errlen, "%s", stop_err);
        }
        return -1;
    }

    return 0;
}


/*
 * GET /containers/{handle}/json into info.  Returns 0 (a container that is
 * gone is reported not running), or -1 with err filled.
 */
static int
faas_docker_inspect(faas_runtime_t *rt, const char *handle,
    faas_replica_info_t *info, char *err, size_t errlen)
{
    faas_docker_t      *d = rt->data;
    faas_docker_buf_t   resp;
    cJSON              *json;
    const cJSON        *config, *labels, *state, *id;
    char                path[256];
    long                status;

    if (!faas_spec_valid_token(handle, FAAS_HANDLE_MAX - 1)) {
        return faas_fail(err, errlen, "bad handle \"%.32s\"",
                         handle ? handle : "");
    }

    snprintf(path, sizeof(path), "/containers/%s/json", handle);

    if (faas_docker_request(d, "GET", path, NULL, FAAS_DOCKER_TIMEOUT_MS,
                            &status, &resp, err, errlen) != 0)
    {
        return -1;
    }

    if (status == 404) {
        free(resp.data);
        memset(info, 0, sizeof(*info));
        snprintf(info->handle, sizeof(info->handle), "%s", handle);
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "the container no longer exists");
        return 0;
    }

    if (status != 200) {
        faas_docker_http_error("inspect container", status, &resp, err,
                               errlen);
        free(resp.data);
        return -1;
    }

    json = cJSON_ParseWithLength(resp.data, resp.len);
    free(resp.data);

    config = cJSON_GetObjectItemCaseSensitive(json, "Config");
    labels = cJSON_GetObjectItemCaseSensitive(config, "Labels");
    state = cJSON_GetObjectItemCaseSensitive(json, "State");
    id = cJSON_GetObjectItemCaseSensitive(json, "Id");

    if (!cJSON_IsObject(state) || !cJSON_IsString(id)) {
        cJSON_Delete(json);
        return faas_fail(err, errlen,
                         "docker: inspect container %s: no State or "
                         "Id in the answer", handle);
    }

    faas_docker_info_from_labels(labels, id->valuestring, info);
    faas_docker_info_from_state(state, info);

    cJSON_Delete(json);

    return 0;
}


static int
faas_docker_list(faas_runtime_t *rt, faas_replica_info_t **list, size_t *n,
    char *err, size_t errlen)
{
    faas_docker_t        *d = rt->data;
    faas_docker_buf_t     resp;
    faas_replica_info_t  *out, one;
    cJSON                *json;
    const cJSON          *c, *id, *labels, *state;
    long                  status;
    size_t                count, cap;

    *list = NULL;
    *n = 0;

    if (faas_docker_request(d, "GET",
                            "/containers/json?all=true&"
                            FAAS_DOCKER_MANAGED_FILTER,
                            NULL, FAAS_DOCKER_TIMEOUT_MS, &status, &resp,
                            err, errlen) != 0)
    {
        return -1;
    }

    if (status != 200) {
        faas_docker_http_error("list containers", status, &resp, err, errlen);
        free(resp.data);
        return -1;
    }

    json = cJSON_ParseWithLength(resp.data, resp.len);
    free(resp.data);

    if (!cJSON_IsArray(json)) {
        cJSON_Delete(json);
        return faas_fail(err, errlen,
                         "docker: list containers: not a JSON array");
    }

    cap = (size_t) cJSON_GetArraySize(json);
    out = calloc(cap ? cap : 1, sizeof(*out));
    if (out == NULL) {
        cJSON_Delete(json);
        return faas_fail(err, errlen, "out of memory");
    }

    count = 0;

    cJSON_ArrayForEach(c, json) {
        id = cJSON_GetObjectItemCaseSensitive(c, "Id");
        labels = cJSON_GetObjectItemCaseSensitive(c, "Labels");
        state = cJSON_GetObjectItemCaseSensitive(c, "State");

        if (count == cap || !cJSON_IsString(id)
            || !faas_spec_valid_token(id->valuestring, FAAS_HANDLE_MAX - 1))
        {
            continue;
        }

        if (cJSON_IsString(state)
            && strcmp(state->valuestring, "running") == 0)
        {
            faas_docker_info_from_labels(labels, id->valuestring,
                                         &out[count]);
            out[count++].running = 1;
            continue;
        }

        /* ended: only inspect tells how */
        memset(&one, 0, sizeof(one));
        if (faas_docker_inspect(rt, id->valuestring, &one, err, errlen)
            != 0)
        {
            cJSON_Delete(json);
            free(out);
            return -1;
        }

        if (one.function[0] == '\0' && one.replica_id[0] == '\0') {
            continue;          /* removed since the listing */
        }

        out[count++] = one;
    }

    cJSON_Delete(json);

    *list = out;
    *n = count;

    return 0;
}


/* ---- construction -------------------------------------------------------- */


static void
faas_docker_free(faas_runtime_t *rt)
{
    faas_docker_t  *d;

    if (rt == NULL) {
        return;
    }

    d = rt->data;
    free(d->socket_path);
    free(d);
    free(rt);

    curl_global_cleanup();
}


faas_runtime_t *
faas_runtime_docker_new(const char *docker_host, char *err, size_t errlen)
{
    faas_runtime_t  *rt;
    faas_docker_t   *d;
    const char      *path;

    if (docker_host == NULL || strncmp(docker_host, "unix://", 7) != 0
        || docker_host[7] != '/')
    {
        faas_fail(err, errlen,
                  "docker host \"%.100s\": only unix:///path/to/"
                  "socket is supported", docker_host ? docker_host
                  : "");
        return NULL;
    }

    path = docker_host + 7;

    if (strlen(path) >= 108) {     /* sun_path */
        faas_fail(err, errlen, "docker socket path too long: %s",
                  path);
        return NULL;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        faas_fail(err, errlen, "curl_global_init failed");
        return NULL;
    }

    rt = calloc(1, sizeof(*rt));
    d = calloc(1, sizeof(*d));

    if (rt == NULL || d == NULL || (d->socket_path = strdup(path)) == NULL) {
        free(rt);
        free(d);
        curl_global_cleanup();
        faas_fail(err, errlen, "out of memory");
        return NULL;
    }

    rt->name = "docker";
    rt->start = faas_docker_start;
    rt->stop = faas_docker_stop;
    rt->inspect = faas_docker_inspect;
    rt->list = faas_docker_list;
    rt->free = faas_docker_free;
    rt->data = d;

    return rt;
}

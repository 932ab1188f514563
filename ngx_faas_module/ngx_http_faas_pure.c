/*
 * Copyright (C) nginx-faas developers
 */


#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ngx_http_faas_pure.h"


static int ngx_http_faas_is_lower_alnum(unsigned char c);
static size_t ngx_http_faas_utf8_length(const unsigned char *p, size_t avail);
static int ngx_http_faas_next_word(const unsigned char **pos,
    const unsigned char *end, ngx_http_faas_slice_t *word);
static int ngx_http_faas_slice_is(ngx_http_faas_slice_t *s, const char *text);


int
ngx_http_faas_valid_name(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_FAAS_NAME_MAX) {
        return 0;
    }

    if (!ngx_http_faas_is_lower_alnum(p[0])
        || !ngx_http_faas_is_lower_alnum(p[len - 1]))
    {
        return 0;
    }

    for (i = 1; i + 1 < len; i++) {
        if (!ngx_http_faas_is_lower_alnum(p[i]) && p[i] != '-') {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_faas_valid_replica_id(const unsigned char *p, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len == 0 || len > NGX_HTTP_FAAS_REPLICA_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = p[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        if (i > 0 && (c == '.' || c == '_' || c == '-')) {
            continue;
        }

        return 0;
    }

    return 1;
}


int
ngx_http_faas_valid_env_name(const unsigned char *p, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len == 0 || len > 128) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = p[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            continue;
        }

        if (i > 0 && c >= '0' && c <= '9') {
            continue;
        }

        return 0;
    }

    return 1;
}


int
ngx_http_faas_split_pick(const unsigned *weights_pct, size_t n, unsigned point)
{
    size_t    i;
    unsigned  upper;

    upper = 0;

    for (i = 0; i < n; i++) {
        upper += weights_pct[i];

        if (point < upper) {
            return (int) i;
        }
    }

    return -1;
}


unsigned
ngx_http_faas_sticky_point(const unsigned char *key, size_t len)
{
    size_t    i;
    uint32_t  h;

    /* FNV-1a, then murmur3's finalizer: FNV alone leaves the low bits of
     * short, similar keys (user ids) correlated, which "% 100" would show */

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h ^= key[i];
        h *= 16777619u;
    }

    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;

    return h % 100;
}


int
ngx_http_faas_split_path(const unsigned char *path, size_t len,
    size_t prefix_len, ngx_http_faas_slice_t *name, ngx_http_faas_slice_t *rest)
{
    size_t  start, end;

    if (prefix_len > len) {
        return -1;
    }

    start = prefix_len;

    /* "location /function" must not take "/functionx/..." as function "x" */

    if (prefix_len == 0 || path[prefix_len - 1] != '/') {
        if (start == len || path[start] != '/') {
            return -1;
        }

        start++;
    }

    for (end = start; end < len && path[end] != '/'; end++) {
        /* void */
    }

    if (end == start) {
        return -1;
    }

    name->data = path + start;
    name->len = end - start;

    rest->data = path + end;
    rest->len = len - end;

    return 0;
}


int
ngx_http_faas_parse_endpoint_msg(const unsigned char *p, size_t len,
    ngx_http_faas_endpoint_msg_t *msg, const char **error)
{
    const unsigned char    *pos, *end;
    ngx_http_faas_slice_t   op, extra;
    struct sockaddr_storage sa;
    socklen_t               socklen;

    memset(msg, 0, sizeof(ngx_http_faas_endpoint_msg_t));

    pos = p;
    end = p + len;

    if (!ngx_http_faas_next_word(&pos, end, &op)) {
        *error = "empty message";
        return -1;
    }

    if (ngx_http_faas_slice_is(&op, "up")) {
        msg->op = NGX_HTTP_FAAS_ENDPOINT_UP;

    } else if (ngx_http_faas_slice_is(&op, "down")) {
        msg->op = NGX_HTTP_FAAS_ENDPOINT_DOWN;

    } else {
        *error = "unknown operation";
        return -1;
    }

    if (!ngx_http_faas_next_word(&pos, end, &msg->function)
        || !ngx_http_faas_valid_name(msg->function.data, msg->function.len))
    {
        *error = "missing or invalid function name";
        return -1;
    }

    if (!ngx_http_faas_next_word(&pos, end, &msg->revision)
        || !ngx_http_faas_valid_name(msg->revision.data, msg->revision.len))
    {
        *error = "missing or invalid revision name";
        return -1;
    }

    if (!ngx_http_faas_next_word(&pos, end, &msg->replica_id)
        || !ngx_http_faas_valid_replica_id(msg->replica_id.data,
                                           msg->replica_id.len))
    {
        *error = "missing or invalid replica id";
        return -1;
    }

    if (msg->op == NGX_HTTP_FAAS_ENDPOINT_UP) {
        if (!ngx_http_faas_next_word(&pos, end, &msg->address)) {
            *error = "missing address";
            return -1;
        }

        if (ngx_http_faas_parse_address(msg->address.data, msg->address.len,
                                        &sa, &socklen, error)
            != 0)
        {
            return -1;
        }
    }

    if (ngx_http_faas_next_word(&pos, end, &extra)) {
        *error = "trailing data";
        return -1;
    }

    return 0;
}


int
ngx_http_faas_parse_address(const unsigned char *p, size_t len,
    struct sockaddr_storage *sa, socklen_t *socklen, const char **error)
{
    char                  host[NGX_HTTP_FAAS_ADDR_TEXT_MAX];
    size_t                i, host_len;
    unsigned long         port;
    const unsigned char  *colon, *port_start;
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;

    if (len == 0 || len >= NGX_HTTP_FAAS_ADDR_TEXT_MAX) {
        *error = "address is empty or too long";
        return -1;
    }

    colon = NULL;

    if (p[0] == '[') {
        for (i = 1; i < len; i++) {
            if (p[i] == ']') {
                break;
            }
        }

        if (i == len || i + 1 == len || p[i + 1] != ':') {
            *error = "IPv6 address must be written as [ADDR]:PORT";
            return -1;
        }

        host_len = i - 1;
        memcpy(host, p + 1, host_len);
        port_start = p + i + 2;

    } else {
        for (i = len; i > 0; i--) {
            if (p[i - 1] == ':') {
                colon = p + i - 1;
                break;
            }
        }

        if (colon == NULL) {
            *error = "address has no port";
            return -1;
        }

        host_len = colon - p;
        memcpy(host, p, host_len);
        port_start = colon + 1;
    }

    host[host_len] = '\0';

    port = 0;

    if (port_start == p + len) {
        *error = "address has no port";
        return -1;
    }

    for (i = 0; port_start + i < p + len; i++) {
        if (port_start[i] < '0' || port_start[i] > '9' || i >= 5) {
            *error = "invalid port";
            return -1;
        }

        port = port * 10 + (port_start[i] - '0');
    }

    if (port == 0 || port > 65535) {
        *error = "invalid port";
        return -1;
    }

    memset(sa, 0, sizeof(struct sockaddr_storage));

    if (p[0] == '[') {
        sin6 = (struct sockaddr_in6 *) sa;

        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            *error = "invalid IPv6 address";
            return -1;
        }

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        *socklen = sizeof(struct sockaddr_in6);

        return 0;
    }

    sin = (struct sockaddr_in *) sa;

    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        *error = "invalid IPv4 address";
        return -1;
    }

    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    *socklen = sizeof(struct sockaddr_in);

    return 0;
}


unsigned char *
ngx_http_faas_json_escape(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t                      i, n;
    unsigned char               c;
    static const unsigned char  hex[] = "0123456789abcdef";

    for (i = 0; i < len; /* void */ ) {
        c = src[i];

        if (c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = c;
            i++;
            continue;
        }

        if (c < 0x20 || c == 0x7f) {
            *dst++ = '\\';
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0xf];
            i++;
            continue;
        }

        if (c < 0x80) {
            *dst++ = c;
            i++;
            continue;
        }

        n = ngx_http_faas_utf8_length(src + i, len - i);

        if (n == 0) {
            /* not UTF-8: the replacement character keeps the JSON valid */
            dst = (unsigned char *) memcpy(dst, "\\ufffd", 6) + 6;
            i++;
            continue;
        }

        memcpy(dst, src + i, n);
        dst += n;
        i += n;
    }

    return dst;
}


/*
 * The length of the well-formed UTF-8 sequence at p (2 to 4 bytes, no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */

static size_t
ngx_http_faas_utf8_length(const unsigned char *p, size_t avail)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2; cp = p[0] & 0x1f; min = 0x80;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3; cp = p[0] & 0x0f; min = 0x800;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4; cp = p[0] & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if (avail < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


static int
ngx_http_faas_is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}


/*
 * Takes the next space-separated word from [*pos, end).  Returns 1 and
 * advances *pos, or 0 when only spaces remain.
 */

static int
ngx_http_faas_next_word(const unsigned char **pos, const unsigned char *end,
    ngx_http_faas_slice_t *word)
{
    const unsigned char  *p;

    for (p = *pos; p < end && *p == ' '; p++) {
        /* void */
    }

    word->data = p;

    for ( /* void */ ; p < end && *p != ' '; p++) {
        /* void */
    }

    word->len = p - word->data;
    *pos = p;

    return word->len != 0;
}


static int
ngx_http_faas_slice_is(ngx_http_faas_slice_t *s, const char *text)
{
    size_t  len;

    len = strlen(text);

    return s->len == len && memcmp(s->data, text, len) == 0;
}

/*
 * Copyright (C) nginx-faas developers
 *
 * Unit tests of the module's pure decisions (ngx_http_faas_pure.c): name
 * validation, the weighted split, sticky hashing, path splitting, endpoint
 * events and addresses, JSON escaping.  Prints TAP.
 */


#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "ngx_http_faas_pure.h"
#include "tap.h"


#define S(text)  (const unsigned char *) (text), strlen(text)


static void
test_names(void)
{
    static const struct {
        const char  *name;
        int          valid;
    } cases[] = {
        { "hello", 1 },
        { "a", 1 },
        { "0", 1 },
        { "hello-world-2", 1 },
        { "a23456789012345678901234567890123456789012345678901234567890123",
          1 },
        { "a234567890123456789012345678901234567890123456789012345678901234",
          0 },
        { "", 0 },
        { "Hello", 0 },
        { "-hello", 0 },
        { "hello-", 0 },
        { "he_llo", 0 },
        { "he.llo", 0 },
        { "he llo", 0 },
        { "h\xc3\xa9llo", 0 },
    };

    char    name[128];
    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "name \"%.70s\" is %s", cases[i].name,
                 cases[i].valid ? "valid" : "invalid");
        is_int(ngx_http_faas_valid_name(S(cases[i].name)), cases[i].valid,
               name);
    }

    ok(ngx_http_faas_valid_name((const unsigned char *) "ab\0c", 4) == 0,
       "a name with a NUL byte is invalid");
}


static void
test_replica_ids_and_env(void)
{
    ok(ngx_http_faas_valid_replica_id(S("hello-v1-3f2a")), "replica id");
    ok(ngx_http_faas_valid_replica_id(S("A.b_c-1")), "replica id mixed");
    ok(!ngx_http_faas_valid_replica_id(S("")), "empty replica id");
    ok(!ngx_http_faas_valid_replica_id(S("-x")), "replica id starting -");
    ok(!ngx_http_faas_valid_replica_id(S("a b")), "replica id with space");
    ok(!ngx_http_faas_valid_replica_id(S("a:b")), "replica id with colon");
    ok(ngx_http_faas_valid_replica_id(S(
        "a123456789012345678901234567890123456789012345678901234567890123")),
       "replica id of 64 characters");
    ok(!ngx_http_faas_valid_replica_id(S(
        "a1234567890123456789012345678901234567890123456789012345678901234")),
       "replica id of 65 characters");

    ok(ngx_http_faas_valid_env_name(S("GREETING")), "env name");
    ok(ngx_http_faas_valid_env_name(S("_x9")), "env name with _ and digit");
    ok(!ngx_http_faas_valid_env_name(S("9x")), "env name starting with digit");
    ok(!ngx_http_faas_valid_env_name(S("A-B")), "env name with -");
    ok(!ngx_http_faas_valid_env_name(S("")), "empty env name");
}


static void
test_split(void)
{
    unsigned  w90[] = { 90, 10 };
    unsigned  w0[] = { 0, 100 };
    unsigned  w3[] = { 33, 0, 67 };
    unsigned  none[] = { 0, 0 };
    unsigned  point, hits[3];

    is_int(ngx_http_faas_split_pick(w90, 2, 0), 0, "point 0 of 90/10 is v1");
    is_int(ngx_http_faas_split_pick(w90, 2, 89), 0, "point 89 is v1");
    is_int(ngx_http_faas_split_pick(w90, 2, 90), 1, "point 90 is v2");
    is_int(ngx_http_faas_split_pick(w90, 2, 99), 1, "point 99 is v2");
    is_int(ngx_http_faas_split_pick(w0, 2, 0), 1,
           "a revision at weight 0 is never picked");
    is_int(ngx_http_faas_split_pick(none, 2, 5), -1, "no weights: -1");

    hits[0] = hits[1] = hits[2] = 0;

    for (point = 0; point < 100; point++) {
        hits[ngx_http_faas_split_pick(w3, 3, point)]++;
    }

    ok(hits[0] == 33 && hits[1] == 0 && hits[2] == 67,
       "every point maps to a revision in proportion to its weight");
}


static void
test_sticky(void)
{
    char      key[32];
    unsigned  i, p, buckets[10];

    is_int(ngx_http_faas_sticky_point(S("user-42")),
           ngx_http_faas_sticky_point(S("user-42")),
           "the same key always gives the same point");

    ok(ngx_http_faas_sticky_point(S("")) < 100, "an empty key is in range");

    /* sequential ids must spread evenly, not cluster */

    memset(buckets, 0, sizeof(buckets));

    for (i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "user-%u", i);
        p = ngx_http_faas_sticky_point(S(key));

        if (p >= 100) {
            break;
        }

        buckets[p / 10]++;
    }

    is_int(i, 10000, "every point is below 100");

    for (i = 0; i < 10; i++) {
        if (buckets[i] < 850 || buckets[i] > 1150) {
            break;
        }
    }

    is_int(i, 10, "10,000 sequential keys spread over ten deciles "
                  "within 15% each");
}


static void
check_path(const char *path, size_t prefix_len, int rc, const char *name,
    const char *rest, const char *test)
{
    char                   got[256];
    ngx_http_faas_slice_t  n, r;

    if (ngx_http_faas_split_path(S(path), prefix_len, &n, &r) != rc) {
        ok(0, test);
        return;
    }

    if (rc != 0) {
        ok(1, test);
        return;
    }

    snprintf(got, sizeof(got), "%.*s|%.*s", (int) n.len, n.data,
             (int) r.len, r.data);

    {
        char  want[256];

        snprintf(want, sizeof(want), "%s|%s", name, rest);
        is_str(got, want, test);
    }
}


static void
test_paths(void)
{
    /* location /function/ */
    check_path("/function/hello/a/b", 10, 0, "hello", "/a/b",
               "name and rest after /function/");
    check_path("/function/hello", 10, 0, "hello", "",
               "name alone leaves an empty rest");
    check_path("/function/hello/", 10, 0, "hello", "/",
               "trailing slash is the rest");
    check_path("/function/", 10, -1, "", "", "no name after the prefix");
    check_path("/function//x", 10, -1, "", "", "empty segment is no name");

    /* location /function (no trailing slash) */
    check_path("/function/hello/x", 9, 0, "hello", "/x",
               "prefix without slash takes the next segment");
    check_path("/functionx/y", 9, -1, "", "",
               "prefix without slash does not match inside a word");
    check_path("/function", 9, -1, "", "", "prefix alone has no name");

    /* location / */
    check_path("/hello/a", 1, 0, "hello", "/a", "root location");
}


static void
check_msg(const char *text, int rc, const char *test)
{
    const char                    *error;
    ngx_http_faas_endpoint_msg_t   msg;

    error = NULL;

    if (ngx_http_faas_parse_endpoint_msg(S(text), &msg, &error) != rc) {
        ok(0, test);
        printf("#   error: %s\n", error ? error : "(none)");
        return;
    }

    ok(1, test);
}


static void
test_endpoint_messages(void)
{
    const char                    *error;
    ngx_http_faas_endpoint_msg_t   msg;

    ok(ngx_http_faas_parse_endpoint_msg(S("up hello v1 r-1 127.0.0.1:8001"),
                                        &msg, &error) == 0
       && msg.op == NGX_HTTP_FAAS_ENDPOINT_UP
       && msg.function.len == 5
       && memcmp(msg.function.data, "hello", 5) == 0
       && msg.revision.len == 2
       && msg.replica_id.len == 3
       && msg.address.len == 14,
       "up message fields");

    ok(ngx_http_faas_parse_endpoint_msg(S("down hello v1 r-1"), &msg, &error)
       == 0 && msg.op == NGX_HTTP_FAAS_ENDPOINT_DOWN && msg.address.len == 0,
       "down message fields");

    check_msg("up  hello  v1 r1  [::1]:80 ", 0, "extra spaces are fine");
    check_msg("", -1, "empty message");
    check_msg("sideways hello v1 r1", -1, "unknown operation");
    check_msg("up Hello v1 r1 127.0.0.1:1", -1, "invalid function name");
    check_msg("up hello V1 r1 127.0.0.1:1", -1, "invalid revision name");
    check_msg("up hello v1 r:1 127.0.0.1:1", -1, "invalid replica id");
    check_msg("up hello v1 r1", -1, "up without address");
    check_msg("up hello v1 r1 localhost:80", -1, "up with a host name");
    check_msg("up hello v1 r1 127.0.0.1:80 x", -1, "trailing data");
    check_msg("down hello v1", -1, "down without id");
    check_msg("down hello v1 r1 127.0.0.1:80", -1, "down with an address");
}


static void
check_addr(const char *text, int rc, int family, unsigned port,
    const char *test)
{
    const char              *error;
    socklen_t                len;
    struct sockaddr_in      *sin;
    struct sockaddr_in6     *sin6;
    struct sockaddr_storage  sa;

    error = NULL;

    if (ngx_http_faas_parse_address(S(text), &sa, &len, &error) != rc) {
        ok(0, test);
        printf("#   error: %s\n", error ? error : "(none)");
        return;
    }

    if (rc != 0) {
        ok(error != NULL, test);
        return;
    }

    if (family == AF_INET) {
        sin = (struct sockaddr_in *) &sa;
        ok(sa.ss_family == AF_INET && len == sizeof(*sin)
           && ntohs(sin->sin_port) == port, test);

    } else {
        sin6 = (struct sockaddr_in6 *) &sa;
        ok(sa.ss_family == AF_INET6 && len == sizeof(*sin6)
           && ntohs(sin6->sin6_port) == port, test);
    }
}


static void
test_addresses(void)
{
    check_addr("127.0.0.1:8080", 0, AF_INET, 8080, "IPv4 address");
    check_addr("10.1.2.3:1", 0, AF_INET, 1, "lowest port");
    check_addr("10.1.2.3:65535", 0, AF_INET, 65535, "highest port");
    check_addr("[::1]:443", 0, AF_INET6, 443, "IPv6 address");
    check_addr("[fe80::1:2]:8", 0, AF_INET6, 8, "IPv6 with groups");
    check_addr("127.0.0.1", -1, 0, 0, "no port");
    check_addr("127.0.0.1:", -1, 0, 0, "empty port");
    check_addr("127.0.0.1:0", -1, 0, 0, "port 0");
    check_addr("127.0.0.1:65536", -1, 0, 0, "port too high");
    check_addr("127.0.0.1:123456", -1, 0, 0, "port too long");
    check_addr("127.0.0.1:8a", -1, 0, 0, "port not a number");
    check_addr("localhost:80", -1, 0, 0, "host names are not resolved");
    check_addr("256.0.0.1:80", -1, 0, 0, "octet out of range");
    check_addr("::1:80", -1, 0, 0, "IPv6 without brackets");
    check_addr("[::1:80", -1, 0, 0, "IPv6 without closing bracket");
    check_addr("[::1]80", -1, 0, 0, "IPv6 without colon before the port");
    check_addr("", -1, 0, 0, "empty address");
    check_addr("1111111111111111111111111111111111111111111111111:1", -1, 0, 0,
               "overlong address");
}


static void
check_json(const char *in, size_t len, const char *want, const char *test)
{
    unsigned char  out[512], *end;

    end = ngx_http_faas_json_escape(out, (const unsigned char *) in, len);
    *end = '\0';

    is_str((char *) out, want, test);
}


static void
test_json_escape(void)
{
    check_json("plain", 5, "plain", "plain ASCII is unchanged");
    check_json("a\"b\\c", 5, "a\\\"b\\\\c", "quote and backslash");
    check_json("a\nb\x01", 4, "a\\u000ab\\u0001", "control characters");
    check_json("x\x7f", 2, "x\\u007f", "DEL");
    check_json("h\xc3\xa9llo", 6, "h\xc3\xa9llo", "UTF-8 passes through");
    check_json("\xe2\x82\xac", 3, "\xe2\x82\xac", "three-byte UTF-8");
    check_json("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", "four-byte UTF-8");
    check_json("a\xffz", 3, "a\\ufffdz", "an invalid byte is replaced");
    check_json("\xc3", 1, "\\ufffd", "a truncated sequence is replaced");
    check_json("\xc0\xaf", 2, "\\ufffd\\ufffd", "an overlong form is replaced");
    check_json("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd",
               "a surrogate is replaced");
    check_json("a\0b", 3, "a\\u0000b", "NUL byte");
}


int
main(void)
{
    test_names();
    test_replica_ids_and_env();
    test_split();
    test_sticky();
    test_paths();
    test_endpoint_messages();
    test_addresses();
    test_json_escape();

    return tap_done();
}

/*
 * Unit tests of controller/spec.c: the spec JSON nginx publishes, what is
 * refused, and the names (labels, replica ids).
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "spec.h"


#define GOOD                                                                 \
    "{\"schema\":1,\"name\":\"hello\",\"revisions\":["                       \
    "{\"name\":\"v1\",\"weight\":90,\"exec\":\"/usr/bin/python3 app.py\"},"  \
    "{\"name\":\"v2\",\"weight\":10,\"image\":\"localhost/hello:2\"}],"      \
    "\"env\":{\"GREETING\":\"hi there\",\"A_1\":\"\"},\"concurrency\":10,"   \
    "\"scale\":{\"min\":1,\"max\":20,\"target\":7,\"idle_ms\":60000},"       \
    "\"queue\":{\"size\":1000,\"timeout_ms\":30000},\"health\":\"/healthz\","\
    "\"published_by\":\"web-1:4211\",\"published_at\":1795743857}"


static int
refused(const char *json, const char *want, const char *name)
{
    int          rc;
    char         err[256];
    faas_spec_t  spec;

    rc = faas_spec_parse("hello", json, strlen(json), &spec, err,
                         sizeof(err));

    if (rc == 0) {
        faas_spec_free(&spec);
        return ok(0, name);
    }

    if (!ok(strstr(err, want) != NULL, name)) {
        printf("#   error: %s\n#   wanted: %s\n", err, want);
        return 0;
    }

    return 1;
}


/* GOOD with one piece replaced */

static const char *
variant(const char *from, const char *to)
{
    static char  buf[2048];
    const char  *p;

    p = strstr(GOOD, from);

    if (p == NULL) {
        return "{}";
    }

    snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (p - GOOD), GOOD, to,
             p + strlen(from));

    return buf;
}


int
main(void)
{
    char         err[256], id[FAAS_REPLICA_ID_MAX + 1];
    char         fn[FAAS_NAME_MAX + 1], rev[FAAS_NAME_MAX + 1];
    char         long63[64], other63[64];
    faas_spec_t  spec, again;

    is_int(faas_spec_parse("hello", GOOD, strlen(GOOD), &spec, err,
                           sizeof(err)), 0, "the documented example parses");
    is_str(spec.name, "hello", "name");
    is_int(spec.nrevisions, 2, "two revisions");
    is_str(spec.revisions[0].name, "v1", "first revision");
    is_int(spec.revisions[0].weight_pct, 90, "its weight");
    is_str(spec.revisions[0].exec, "/usr/bin/python3 app.py", "its exec");
    ok(spec.revisions[0].image == NULL, "no image when not declared");
    is_str(spec.revisions[1].image, "localhost/hello:2", "second's image");
    ok(spec.revisions[1].exec == NULL, "no exec when not declared");
    is_str(spec.env[0], "GREETING=hi there", "env entry as K=V");
    is_str(spec.env[1], "A_1=", "empty env value");
    ok(spec.env[2] == NULL, "env is NULL-terminated");
    is_int(spec.concurrency, 10, "concurrency");
    is_int(spec.scale_min, 1, "scale min");
    is_int(spec.scale_max, 20, "scale max");
    is_int(spec.scale_target, 7, "scale target");
    is_int(spec.scale_idle_ms, 60000, "idle_ms");
    is_int(spec.queue_size, 1000, "queue size");
    is_int(spec.queue_timeout_ms, 30000, "queue timeout");
    is_str(spec.health, "/healthz", "health path");

    is_int(faas_spec_parse("hello", GOOD, strlen(GOOD), &again, err,
                           sizeof(err)), 0, "parses again");
    ok(faas_spec_equal(&spec, &again), "the same text is an equal spec");
    faas_spec_free(&again);

    is_int(faas_spec_parse("hello", variant("app.py", "app2.py"),
                           strlen(variant("app.py", "app2.py")), &again, err,
                           sizeof(err)), 0, "a changed exec parses");
    ok(!faas_spec_equal(&spec, &again), "and is another spec");
    faas_spec_free(&again);
    faas_spec_free(&spec);

    is_int(faas_spec_parse("hello", variant("\"/healthz\"", "\"\""),
                           strlen(variant("\"/healthz\"", "\"\"")), &spec,
                           err, sizeof(err)), 0, "empty health: TCP probe");
    is_str(spec.health, "", "health empty");
    faas_spec_free(&spec);

    /* refused whole */
    refused("not json", "not a JSON object", "not JSON");
    refused("[1,2]", "not a JSON object", "an array");
    refused(variant("\"schema\":1", "\"schema\":2"), "schema 2",
            "another schema");
    refused(variant("\"name\":\"hello\"", "\"name\":\"other\""),
            "differs from the field", "name differs from the field");
    refused(variant("\"name\":\"hello\"", "\"name\":\"Hello\""),
            "not a DNS label", "function name not a label");
    refused(variant("\"name\":\"v1\"", "\"name\":\"v_1\""),
            "revision 1: the name is not a DNS label",
            "revision name not a label");
    refused(variant("\"name\":\"v2\"", "\"name\":\"v1\""), "declared twice",
            "duplicate revision");
    refused(variant("\"weight\":90", "\"weight\":101"),
            "revision 1: \"weight\" is out of range", "weight above 100");
    refused(variant("\"weight\":90", "\"weight\":\"90\""),
            "\"weight\" is missing or not a number", "weight as a string");
    refused(variant("\"exec\":\"/usr/bin/python3 app.py\"", "\"exec\":5"),
            "\"exec\" is not a string", "exec not a string");
    refused(variant("\"concurrency\":10", "\"concurrency\":-1"),
            "\"concurrency\" is out of range", "negative concurrency");
    refused(variant("\"min\":1", "\"min\":1.5"), "\"min\" is out of range",
            "fractional min");
    refused(variant("\"min\":1,\"max\":20", "\"min\":5,\"max\":2"),
            "scale max 2 is below min 5", "max below min");
    refused(variant("\"health\":\"/healthz\"", "\"health\":\"healthz\""),
            "\"health\" is not a path", "health without a slash");
    refused(variant("\"health\":\"/healthz\"",
                    "\"health\":\"/a b\""), "\"health\" is not a path",
            "health with a space");
    refused(variant("\"health\":\"/healthz\"",
                    "\"health\":\"/a\\r\\nX: y\""), "\"health\" is not a path",
            "health with CRLF");
    refused(variant("\"GREETING\"", "\"GREE TING\""), "bad variable name",
            "env name with a space");
    refused(variant("\"A_1\":\"\"", "\"A_1\":1"), "is not a string",
            "env value not a string");
    refused(variant("\"revisions\":[", "\"revisions\":[],\"x\":["),
            "\"revisions\" is missing or empty", "no revisions");
    refused(variant("\"queue\"", "\"q\""), "\"scale\" or \"queue\" is missing",
            "no queue");

    /* max 0 is valid: no limit */
    is_int(faas_spec_parse("hello", variant("\"max\":20", "\"max\":0"),
                           strlen(variant("\"max\":20", "\"max\":0")), &spec,
                           err, sizeof(err)), 0, "max 0 parses");
    faas_spec_free(&spec);

    /* names */
    ok(faas_spec_valid_label("a", 1), "one letter is a label");
    ok(faas_spec_valid_label("a-0", 3), "dash inside");
    ok(!faas_spec_valid_label("-a", 2), "leading dash");
    ok(!faas_spec_valid_label("a-", 2), "trailing dash");
    ok(!faas_spec_valid_label("A", 1), "upper case");
    ok(!faas_spec_valid_label("", 0), "empty");
    memset(long63, 'a', 63);
    long63[63] = '\0';
    ok(faas_spec_valid_label(long63, 63), "63 characters");
    ok(!faas_spec_valid_label("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaa", 64), "64 characters");

    faas_spec_replica_id(id, "hello", "v1", 0xdeadbeef);
    is_str(id, "hello-v1-deadbeef", "replica id <fn>-<rev>-<8 hex>");
    ok(faas_spec_valid_replica_id(id), "is a valid replica id");

    memset(other63, 'b', 63);
    other63[63] = '\0';
    faas_spec_replica_id(id, long63, other63, 1);
    is_int(strlen(id), 64, "long names: cut to fit 64");
    ok(strncmp(id, long63, 27) == 0 && id[27] == '-'
       && strncmp(id + 28, other63, 27) == 0
       && strcmp(id + 55, "-00000001") == 0, "both names cut to 27");
    ok(faas_spec_valid_replica_id(id), "still a valid replica id");

    faas_spec_replica_id(id, long63, "v1", 2);
    is_int(strlen(id), 27 + 1 + 2 + 1 + 8, "cut when it does not fit");

    ok(!faas_spec_valid_replica_id("-a"), "id starting with a dash");
    ok(!faas_spec_valid_replica_id("a b"), "id with a space");
    ok(faas_spec_valid_replica_id("A.b_c-1"), "id of [A-Za-z0-9._-]");

    is_int(faas_spec_split_names("hello v1", 8, ' ', fn, rev), 0,
           "wake message splits");
    is_str(fn, "hello", "function");
    is_str(rev, "v1", "revision");
    is_int(faas_spec_split_names("hello:v1", 8, ':', fn, rev), 0,
           "wake member splits");
    is_int(faas_spec_split_names("hello", 5, ':', fn, rev), -1,
           "no separator");
    is_int(faas_spec_split_names("hello:V1", 8, ':', fn, rev), -1,
           "bad revision name");
    is_int(faas_spec_split_names("a:b:c", 5, ':', fn, rev), -1,
           "two separators");

    return tap_done();
}

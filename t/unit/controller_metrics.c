/*
 * Unit tests of controller/metrics.c: nginx's metrics records parsed, and
 * one tick's reports of the nginx instances turned into the scaler's
 * snapshots (stale, missing, dropped by a reload, restarted, new).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "metrics.h"


#define STALE  5000


static char  json_buf[8][512];


/* a record as nginx writes it */

static const char *
rec(int slot, long long at, long long in_flight, long long parked,
    unsigned long long requests, long long last)
{
    snprintf(json_buf[slot], sizeof(json_buf[slot]),
             "{\"in_flight\":%lld,\"active\":%lld,\"parked\":%lld,"
             "\"ready\":1,\"requests\":%llu,\"last_request_ms\":%lld,"
             "\"cold_starts\":0,\"rejected\":0,\"timeouts\":0,"
             "\"aborted\":0,\"at_ms\":%lld,\"replicas\":{\"a-b-1\":1}}",
             in_flight, in_flight - parked, parked, requests, last, at);

    return json_buf[slot];
}


/*
 * What faas_scaler_sum decides of completeness (the library is not linked
 * into this test): some snapshot, none older than STALE.
 */

static int
complete(const faas_scaler_snapshot_t *s, size_t n, long long now)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (now - s[i].at_ms > STALE) {
            return 0;
        }
    }

    return n > 0;
}


static int
parse(const char *json, faas_scaler_snapshot_t *snap)
{
    return faas_metrics_parse(json, strlen(json), snap);
}


static faas_metrics_report_t
report(const char *instance, long long flushed, const char *json)
{
    faas_metrics_report_t  r;

    r.instance = instance;
    r.flushed_ms = flushed;
    r.json = json;
    r.json_len = json ? strlen(json) : 0;

    return r;
}


int
main(void)
{
    size_t                  n, bad;
    const char             *json;
    faas_metrics_peers_t    peers;
    faas_metrics_report_t   r[4];
    faas_scaler_snapshot_t  s[4], one;
    char                    longname[FAAS_METRICS_INSTANCE_MAX + 10];

    /* parse */

    json = rec(0, 1000, 5, 3, 1234, 900);
    ok(faas_metrics_parse(json, strlen(json), &one) == 0, "a record parses");
    is_int(one.at_ms, 1000, "at_ms");
    is_int(one.in_flight, 5, "in_flight (parked included)");
    is_int(one.parked, 3, "parked");
    is_int(one.requests, 1234, "requests");
    is_int(one.last_request_ms, 900, "last_request_ms");
    is_int(one.requests_before, 0, "requests_before left 0");

    ok(parse("not json", &one) == -1, "not JSON");
    ok(parse("[1,2]", &one) == -1, "not an object");
    ok(parse("{\"at_ms\":1,\"in_flight\":1,\"parked\":0,\"requests\":1}",
             &one) == -1, "last_request_ms missing");
    ok(parse("{\"at_ms\":1,\"in_flight\":-1,\"parked\":0,\"requests\":1,"
             "\"last_request_ms\":0}", &one) == -1, "a negative count");
    ok(parse("{\"at_ms\":1,\"in_flight\":\"1\",\"parked\":0,"
             "\"requests\":1,\"last_request_ms\":0}", &one) == -1,
       "a count as a string");
    ok(parse("{\"at_ms\":7,\"in_flight\":1,\"parked\":0,\"requests\":1,"
             "\"last_request_ms\":0}", &one) == 0,
       "the fields the scaler needs are enough");
    is_int(one.at_ms, 7, "its at_ms");
    ok(parse("{\"at_ms\":1,\"in_flight\":1,\"parked\":0,\"requests\":1,"
             "\"last_request_ms\":0}", &one) == 0
       && parse("{\"at_ms\":1,\"in_flight\":1,", &one) == -1,
       "a record cut short");
    is_int(one.at_ms, 0, "a failed parse leaves a zeroed snapshot");

    /* collect: first sight of two instances */

    memset(&peers, 0, sizeof(peers));

    r[0] = report("web-1:10", 10000, rec(0, 10000, 2, 0, 500, 9990));
    r[1] = report("web-2:20", 10000, rec(1, 10000, 3, 1, 70, 9000));
    is_int(faas_metrics_collect(&peers, r, 2, 10100, STALE, s, &n, &bad), 0,
           "collect");
    is_int(n, 2, "two snapshots");
    is_int(bad, 0, "none bad");
    is_int(s[0].requests_before, 500,
           "first sight: requests_before is the counter (no delta)");
    is_int(s[1].requests_before, 70, "for each instance");
    is_int(peers.n, 2, "both remembered");
    is_str(peers.peers[1].instance, "web-2:20", "by name");

    /* next tick: deltas per instance; web-2 restarted (counter reset) */

    r[0] = report("web-1:10", 12000, rec(0, 12000, 1, 0, 530, 11990));
    r[1] = report("web-2:20", 12000, rec(1, 12000, 0, 0, 4, 11000));
    faas_metrics_collect(&peers, r, 2, 12100, STALE, s, &n, &bad);
    is_int(n, 2, "two snapshots again");
    is_int(s[0].requests_before, 500, "web-1: the counter of the last tick");
    is_int(s[1].requests_before, 70,
           "web-2: the old counter (the scaler sees the reset)");
    is_int(s[0].requests - s[0].requests_before, 30, "delta 30");
    ok(s[1].requests < s[1].requests_before,
       "reset: a counter below requests_before, which faas_scaler_sum "
       "takes as a restart");

    /* web-2 stops flushing: its hash still has the old field, stale */

    r[0] = report("web-1:10", 18000, rec(0, 18000, 0, 0, 540, 11990));
    r[1] = report("web-2:20", 12000, rec(1, 12000, 0, 0, 4, 11000));
    faas_metrics_collect(&peers, r, 2, 18100, STALE, s, &n, &bad);
    is_int(n, 2, "a stale instance still gives its snapshot");
    ok(!complete(s, n, 18100),
       "and the sample is incomplete");
    is_int(s[0].requests_before, 530, "web-1 delta from 530");

    /* its hash expired too: the field is gone, the instance is stale */

    r[1] = report("web-2:20", 12000, NULL);
    faas_metrics_collect(&peers, r, 2, 19100, STALE, s, &n, &bad);
    is_int(n, 2, "a missing instance that reported before is a snapshot");
    is_int(s[1].at_ms, 12000, "of its last time");
    ok(!complete(s, n, 19100), "incomplete");

    /* it comes back: the counter kept from its last fresh snapshot */

    r[1] = report("web-2:20", 20000, rec(1, 20000, 1, 0, 9, 19900));
    faas_metrics_collect(&peers, r, 2, 20100, STALE, s, &n, &bad);
    is_int(s[1].requests_before, 4, "web-2 back: delta from 4, none lost");
    ok(complete(s, n, 20100), "complete again");

    /* expired from <prefix>instances: not in the reports, forgotten */

    faas_metrics_collect(&peers, r, 1, 21100, STALE, s, &n, &bad);
    is_int(n, 1, "only web-1");
    is_int(peers.n, 1, "web-2 forgotten");

    /* a fresh instance without the field does not declare the revision */

    r[1] = report("web-3:30", 21000, NULL);
    faas_metrics_collect(&peers, r, 2, 21100, STALE, s, &n, &bad);
    is_int(n, 1, "web-3 without the field gives nothing");
    ok(complete(s, n, 21100),
       "and the sample stays complete");

    /* a stale instance never seen with the revision is not waited for */

    r[1] = report("web-4:40", 1000, NULL);
    faas_metrics_collect(&peers, r, 2, 21100, STALE, s, &n, &bad);
    is_int(n, 1, "an old unknown instance gives nothing");

    /* a field older than the instance's flush: dropped by a reload */

    r[1] = report("web-5:50", 22000, rec(1, 15000, 4, 0, 10, 14000));
    faas_metrics_collect(&peers, r, 2, 22100, STALE, s, &n, &bad);
    is_int(n, 1, "a field left over from before a reload is not used");

    /* a value that does not parse: incomplete, counted */

    r[1] = report("web-6:60", 22000, "{\"garbage\":true}");
    faas_metrics_collect(&peers, r, 2, 22100, STALE, s, &n, &bad);
    is_int(bad, 1, "counted as bad");
    is_int(n, 2, "and used as a snapshot");
    ok(!complete(s, n, 22100),
       "that makes the sample incomplete");

    /* names too long are skipped */

    memset(longname, 'h', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    r[1] = report(longname, 22000, rec(1, 22000, 4, 0, 10, 14000));
    faas_metrics_collect(&peers, r, 2, 22100, STALE, s, &n, &bad);
    is_int(n, 1, "an instance name over the limit is skipped");

    /* a stale snapshot does not move the remembered counter */

    faas_metrics_peers_free(&peers);
    r[0] = report("web-1:10", 30000, rec(0, 30000, 0, 0, 100, 29000));
    faas_metrics_collect(&peers, r, 1, 30000, STALE, s, &n, &bad);
    r[0] = report("web-1:10", 30000, rec(0, 30000, 0, 0, 100, 29000));
    faas_metrics_collect(&peers, r, 1, 40000, STALE, s, &n, &bad);
    r[0] = report("web-1:10", 41000, rec(0, 41000, 0, 0, 150, 40900));
    faas_metrics_collect(&peers, r, 1, 41000, STALE, s, &n, &bad);
    is_int(s[0].requests_before, 100, "the delta spans the stale ticks");

    faas_metrics_peers_free(&peers);
    is_int(peers.n, 0, "freed");

    return tap_done();
}

/*
 * Unit tests of controller/drain.c: reading nginx's metrics and deciding
 * whether an unpublished replica has finished its requests.
 */

#include <string.h>

#include "tap.h"
#include "drain.h"


#define METRICS(at, replicas)                                                \
    "{\"in_flight\":3,\"active\":2,\"parked\":1,\"ready\":1,"                \
    "\"requests\":9,\"last_request_ms\":1,\"cold_starts\":0,"                \
    "\"rejected\":0,\"timeouts\":0,\"aborted\":0,\"at_ms\":" at ","          \
    "\"replicas\":{" replicas "}}"


static faas_drain_report_t
report(int reported, long long at_ms, long long in_flight)
{
    faas_drain_report_t  r;

    r.reported = reported;
    r.at_ms = at_ms;
    r.in_flight = in_flight;
    r.flushed_ms = at_ms;

    return r;
}


int
main(void)
{
    const char           *m;
    faas_drain_report_t   r, rs[3];
    const long long       T = 1000000, TO = 30000;
    const long long       M = FAAS_DRAIN_MARGIN_MS;

    m = METRICS("1234", "\"a-v1-1\":2,\"a-v1-2\":0");
    is_str(strstr(m, "\"at_ms\":1234"), "\"at_ms\":1234,\"replicas\":"
           "{\"a-v1-1\":2,\"a-v1-2\":0}}", "the module's format, as tested");
    is_int(faas_drain_parse(m, strlen(m), "a-v1-1", &r), 0, "metrics parse");
    is_int(r.reported, 1, "reported");
    is_int(r.at_ms, 1234, "at_ms");
    is_int(r.in_flight, 2, "in flight on the replica");

    is_int(faas_drain_parse(m, strlen(m), "a-v1-9", &r), 0,
           "absent replica parses");
    is_int(r.in_flight, 0, "absent replica: 0 in flight");

    m = METRICS("1234", "");
    is_int(faas_drain_parse(m, strlen(m), "x", &r), 0, "no replicas at all");
    is_int(r.in_flight, 0, "0 in flight");

    m = "{\"replicas\":{}}";
    is_int(faas_drain_parse(m, strlen(m), "x", &r), -1, "no at_ms: refused");
    ok(r.reported == 1 && r.at_ms == 0, "a refused record waits");

    m = METRICS("1234", "\"x\":\"many\"");
    is_int(faas_drain_parse(m, strlen(m), "x", &r), -1,
           "in_flight not a number: refused");
    is_int(faas_drain_parse("garbage", 7, "x", &r), -1, "not JSON: refused");

    /* decisions */
    is_int(faas_drain_decide(NULL, 0, T, T + M + 1, TO), FAAS_DRAIN_DONE,
           "no nginx at all: done after the margin");
    is_int(faas_drain_decide(NULL, 0, T, T + M, TO), FAAS_DRAIN_WAIT,
           "never before the margin");

    rs[0] = report(1, T + M + 1, 0);
    is_int(faas_drain_decide(rs, 1, T, T + 2000, TO), FAAS_DRAIN_DONE,
           "one nginx idle after the unpublish: done");

    rs[0] = report(1, T + M, 0);
    is_int(faas_drain_decide(rs, 1, T, T + 2000, TO), FAAS_DRAIN_WAIT,
           "a snapshot within the margin does not count");

    rs[0] = report(1, T - 500, 0);
    is_int(faas_drain_decide(rs, 1, T, T + 2000, TO), FAAS_DRAIN_WAIT,
           "a snapshot from before the unpublish does not count");

    rs[0] = report(1, T + 1000, 1);
    is_int(faas_drain_decide(rs, 1, T, T + 2000, TO), FAAS_DRAIN_WAIT,
           "a request in flight: wait");

    rs[0] = report(1, T + 1000, 0);
    rs[1] = report(1, T + 1000, 3);
    rs[2] = report(0, 0, 0);
    is_int(faas_drain_decide(rs, 3, T, T + 2000, TO), FAAS_DRAIN_WAIT,
           "every nginx must be idle");

    rs[1] = report(1, T + 1500, 0);
    is_int(faas_drain_decide(rs, 3, T, T + 2000, TO), FAAS_DRAIN_DONE,
           "an nginx without the revision does not hold it");

    rs[1] = report(1, T - 5000, 3);
    rs[1].flushed_ms = T + 1500;
    is_int(faas_drain_decide(rs, 3, T, T + 2000, TO), FAAS_DRAIN_DONE,
           "a field older than the instance's last flush is a revision it "
           "dropped (reload): it does not hold the replica");

    rs[1] = report(1, T + 1500, 3);
    is_int(faas_drain_decide(rs, 3, T, T + TO, TO), FAAS_DRAIN_TIMEOUT,
           "busy until the drain timeout: timeout");

    return tap_done();
}

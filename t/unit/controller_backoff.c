/*
 * Unit tests of controller/backoff.c.
 */

#include "tap.h"
#include "backoff.h"


int
main(void)
{
    is_int(faas_backoff_ms(0, 1000, 60000), 0, "no failure: no wait");
    is_int(faas_backoff_ms(-3, 1000, 60000), 0, "negative: no wait");
    is_int(faas_backoff_ms(1, 1000, 60000), 1000, "first: the base");
    is_int(faas_backoff_ms(2, 1000, 60000), 2000, "then doubling");
    is_int(faas_backoff_ms(6, 1000, 60000), 32000, "32 s");
    is_int(faas_backoff_ms(7, 1000, 60000), 60000, "capped at 60 s");
    is_int(faas_backoff_ms(1000000, 1000, 60000), 60000, "no overflow");
    is_int(faas_backoff_ms(3, 100, 5000), 400, "the Redis reconnection's");

    is_str(faas_backoff_ms(2, 1, 1) == 1 ? "capped" : "not", "capped",
           "a cap below the base caps it");

    return tap_done();
}

/*
 * Unit tests of controller/desired.c: a revision's desired count from its
 * spec and the request in the desired hash.
 */

#include "tap.h"
#include "desired.h"


static int
count(int min, int max, int weight, int requested, int demand)
{
    faas_desired_input_t  in;

    in.scale_min = min;
    in.scale_max = max;
    in.weight_pct = weight;
    in.requested = requested;
    in.demand = demand;

    return faas_desired_count(&in);
}


int
main(void)
{
    is_int(count(0, 0, 100, -1, 0), 0, "nothing requested, min 0: 0");
    is_int(count(1, 0, 100, -1, 0), 1, "nothing requested: min");
    is_int(count(1, 0, 100, 3, 0), 3, "request above min");
    is_int(count(2, 0, 100, 1, 0), 2, "request below min: min");
    is_int(count(0, 4, 100, 9, 0), 4, "capped by max");
    is_int(count(0, 0, 100, 50, 0), 50, "max 0: no cap");
    is_int(count(1, 0, 0, 5, 0), 1, "weight 0 keeps only its min");
    is_int(count(0, 0, 0, 1, 1), 1, "weight 0: demand (a wake) still counts");
    is_int(count(0, 0, 0, 3, 1), 3, "weight 0: the scaler's count (demand)");
    is_int(count(3, 2, 100, -1, 0), 2, "max wins over min (never both in "
           "a valid spec)");

    is_str(count(0, 0, 100, 0, 0) == 0 ? "zero" : "other", "zero",
           "an explicit 0 with min 0: scaled to zero");

    return tap_done();
}

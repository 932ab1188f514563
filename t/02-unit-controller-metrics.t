#!/usr/bin/perl
# The C unit tests of the controller's reading of nginx's metrics for the
# scaler (t/unit/controller_metrics.c), built by "make unit".

use strict;
use warnings;
use FindBin;

my $bin = "$FindBin::Bin/../build/unit/controller_metrics";

if (!-x $bin) {
    print "1..1\nnot ok 1 - $bin is built (run make unit)\n";
    exit 1;
}

exec $bin or die "exec $bin: $!";

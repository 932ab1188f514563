#!/usr/bin/perl
# The C unit tests of the scaling policy (t/unit/scaler_policy.c against
# scaler/), built by "make unit"; their TAP output is this test's output.

use strict;
use warnings;
use FindBin;

my $bin = "$FindBin::Bin/../build/unit/scaler_policy";

if (!-x $bin) {
    print "1..1\nnot ok 1 - $bin is built (run make unit)\n";
    exit 1;
}

exec $bin or die "exec $bin: $!";

#!/usr/bin/perl
# The C unit tests of the controller's spec parsing and names
# (t/unit/controller_spec.c), built by "make unit".

use strict;
use warnings;
use FindBin;

my $bin = "$FindBin::Bin/../build/unit/controller_spec";

if (!-x $bin) {
    print "1..1\nnot ok 1 - $bin is built (run make unit)\n";
    exit 1;
}

exec $bin or die "exec $bin: $!";

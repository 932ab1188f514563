#!/usr/bin/perl
# The module's and the controller's end-to-end tests once more, against
# their AddressSanitizer builds (make asan, build/asan/): nginx runs the
# ASan module in one process, the controller its ASan+UBSan binary (leak
# detection on), and each test also fails on any sanitizer report (see
# FaasTest::log_clean_ok and FaasController).  One "ok" per test file; a
# failing file's output is shown.

use strict;
use warnings;

use Test::More;
use FindBin;

my $root = "$FindBin::Bin/..";

ok(-f "$root/build/asan/ngx_http_faas_module.so", 'the ASan build of the module exists (make asan)')
    or BAIL_OUT('make asan first');

# every end-to-end test of the module (1*, 2*) and of the controller (3*,
# 4*, 5*); the runtimes' own tests (40-runtime-*) drive a plain binary
my @files = sort grep { !/99-asan|40-runtime-/ }
            glob("$root/t/1*.t $root/t/2*.t $root/t/3*.t $root/t/4*.t $root/t/5*.t");

for my $file (@files) {
    my $name = $file =~ s{.*/}{}r;
    my $out = `cd $root && FAAS_ASAN=1 prove $file 2>&1`;
    ok($? == 0, "$name passes under AddressSanitizer") or diag $out;
}

done_testing;

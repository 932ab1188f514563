#!/usr/bin/perl
# The status page shows what the controller says of each revision (its
# status hash in Redis: desired count, state, last exit reason), read at
# every resync; the controller's words are escaped, cut and never trusted.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;

my $t = FaasTest->new;
$t->start_redis;

$t->start_nginx(<<'EOF');
faas_zone  faas 1m;
faas_redis %%REDIS%% resync=200ms;

faas_function hello {
    revision v1 "exec=/bin/true" weight=100;
    revision v2 "exec=/bin/true" weight=0;
}

%%FRONT%%
EOF


ok(!exists $t->revision_status('hello', 'v1')->{controller}, 'no controller section before the controller says anything');

$t->redis('HSET', 'faas:status:hello:v1', 'state', 'backoff', 'desired', '2',
          'desired_reason', 'stable', 'reason', "exited with status 3: \"boom\"\n",
          'updated_ms', '1');

ok($t->wait_until(sub { ($t->revision_status('hello', 'v1')->{controller} // {})->{state} }, 5, 'report'),
   'the controller status of a revision appears at the next resync');
is_deeply($t->revision_status('hello', 'v1')->{controller},
          { desired => 2, desired_reason => 'stable', state => 'backoff',
            reason => "exited with status 3: \"boom\"\n" },
          'with its desired count and why, state and last exit reason, escaped as JSON');

$t->redis('HSET', 'faas:status:hello:v2', 'state', "\xff" x 40, 'desired', 'many',
          'reason', 'x' x 1000);
ok($t->wait_until(sub { $t->revision_status('hello', 'v2')->{controller} }, 5, 'garbage report'),
   'a status hash with garbage still gives valid JSON');
my $c = $t->revision_status('hello', 'v2')->{controller};
is($c->{desired}, undef, 'a desired count that is not a number is shown as null');
is(length $c->{reason}, 160, 'a long reason is cut');
cmp_ok(length $c->{state}, '<=', 16, 'a long state is cut');

$t->log_clean_ok;

done_testing;

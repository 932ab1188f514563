#!/usr/bin/perl
# Wake signals: a request to a revision with no replica is parked by nginx,
# which sends a wake; the controller starts one replica at once and the
# request is answered.  Duplicate wakes start only one replica; a wake
# recorded while the controller was away is served when it starts; two
# cold functions woken together start in parallel.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use FaasController;
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

my $TESTFN = $t->testfn_path;
my $SLOW_MS = 1500;

$t->start_redis;
$t->start_nginx(<<"END");
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms;

faas_function cold {
    revision v1 "exec=$TESTFN";
    health /healthz;
    queue size=100 timeout=20s;
}

faas_function dup {
    revision v1 "exec=$TESTFN";
}

faas_function missed {
    revision v1 "exec=$TESTFN";
    queue size=100 timeout=10s;
}

faas_function stale {
    revision v1 "exec=$TESTFN";
    queue size=100 timeout=2s;
}

faas_function slowa {
    revision v1 "exec=$TESTFN";
    env TESTFN_START_DELAY_MS=$SLOW_MS;
}

faas_function slowb {
    revision v1 "exec=$TESTFN";
    env TESTFN_START_DELAY_MS=$SLOW_MS;
}

%%FRONT%%
END

sub count_of {
    my ($c, $fn) = @_;
    return scalar grep { /^\Q$fn\E-/ } values %{ $c->replica_pids };
}

# --- missed while away: recorded in the wake set ---------------------------

# nginx records demand as "FN:REV" => unix ms; one fresh, one older than
# its function's queue timeout (2 s)
my $now_ms = int(time * 1000);
$t->redis('ZADD', 'faas:wake', $now_ms, 'missed:v1');
$t->redis('ZADD', 'faas:wake', $now_ms - 5000, 'stale:v1');

my $c = FaasController->new($t);
$c->start;

$t->wait_until(sub { keys %{ $c->endpoints('missed', 'v1') } == 1 }, 5,
               'a wake recorded while the controller was away starts a replica');
is(count_of($c, 'missed'), 1, 'one replica');
$t->wait_until(sub { !defined $t->redis('ZSCORE', 'faas:wake', 'missed:v1') }, 5,
               'the served wake is removed from the set');
$t->wait_until(sub { !defined $t->redis('ZSCORE', 'faas:wake', 'stale:v1') }, 5,
               'a wake older than the queue timeout is dropped');
is(count_of($c, 'stale'), 0, 'and starts nothing');

# --- a cold request through nginx -------------------------------------------

my $t0 = time;
my $res = $t->get('/function/cold/hello');
my $cold_ms = (time - $t0) * 1000;
is($res->{status}, 200, 'a request to a cold function is answered');
is($res->{json}{function}, 'cold', 'by the function');
diag(sprintf('cold request through nginx (park, wake, start, probe, publish): %.1f ms', $cold_ms));
is(count_of($c, 'cold'), 1, 'one replica started for it');
my %d = @{ $t->redis('HGETALL', 'faas:desired:cold:v1') };
is($d{replicas}, 1, 'desired hash: replicas 1');
is($d{reason}, 'wake', 'desired hash: reason wake');
ok($d{at_ms} >= int($t0 * 1000) - 1000, 'desired hash: at_ms');
like($c->log, qr/wake for cold\/v1: starting a replica/, 'the wake is logged');

# --- duplicate wakes: one replica -------------------------------------------

$t->redis('PUBLISH', 'faas:ch:wake', 'dup v1') for 1 .. 5;
$t->wait_until(sub { keys %{ $c->endpoints('dup', 'v1') } == 1 }, 5, 'dup is started');
sleep 0.5;
is(count_of($c, 'dup'), 1, 'five duplicate wakes started only one replica');
is(scalar(() = $c->log =~ /wake for dup\/v1/g), 1, 'and only one was acted on');
$t->redis('PUBLISH', 'faas:ch:wake', 'dup v1');
sleep 0.3;
is(count_of($c, 'dup'), 1, 'a wake for a revision that has a replica changes nothing');

# a malformed wake is ignored
$t->redis('PUBLISH', 'faas:ch:wake', 'Not A Valid Message');
$t->redis('PUBLISH', 'faas:ch:wake', 'undeclared v1');

# --- two slow cold starts run in parallel -------------------------------------

$t0 = time;
$t->redis('PUBLISH', 'faas:ch:wake', 'slowa v1');
$t->redis('PUBLISH', 'faas:ch:wake', 'slowb v1');
$t->wait_until(sub { keys(%{ $c->endpoints('slowa', 'v1') }) == 1
                     && keys(%{ $c->endpoints('slowb', 'v1') }) == 1 }, 10,
               'both slow functions published');
my $both_ms = (time - $t0) * 1000;
diag(sprintf('two functions that take %d ms to start, woken together: both ready after %.0f ms',
             $SLOW_MS, $both_ms));
cmp_ok($both_ms, '<', 2 * $SLOW_MS, 'in about the time of one start, not two');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

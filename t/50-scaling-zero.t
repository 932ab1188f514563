#!/usr/bin/perl
# Scale from and to zero end to end (process runtime, real Redis, nginx and
# controller with its scaler on): nothing starts without traffic; the first
# request to a function at zero is answered 200 with $faas_cold 1; the
# replica the wake started is not undone by the next decisions; duplicate
# wakes (concurrent cold requests, repeated messages) start one replica;
# after `idle` with no traffic the function goes to zero replicas (no
# endpoint, no process) and the next request wakes it again, cold.
#
# Short settings keep it fast: `scale idle=3s`, nginx flushes its metrics
# every 200 ms (faas_redis metrics=200ms) and the controller decides every
# 500 ms (--tick 500ms), so that the idle period is watched by several
# decisions; the defaults (1 s, 2 s, 60 s) would take minutes.

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
my $IDLE_S = 3;

$t->start_redis;
$t->start_nginx(<<"END", access_log_format => '$faas_function $faas_cold $status $faas_status');
faas_zone  faas 4m;
faas_redis %%REDIS%% metrics=200ms resync=500ms;

faas_function hello {
    revision v1 "exec=$TESTFN";
    scale idle=${IDLE_S}s;
    queue size=100 timeout=10s;
}

faas_function dup {
    revision v1 "exec=$TESTFN";
    scale idle=60s;
    queue size=100 timeout=10s;
}

%%FRONT%%
END

my $c = FaasController->new($t, args => [ '--tick', '500ms' ]);
$c->start;

# the access log lines of one function, as [ cold, status, faas_status ]
sub log_lines {
    my ($fn) = @_;
    return [ map { [ (split / /)[1, 2, 3] ] } grep { /^\Q$fn\E / } split /\n/, $t->access_log ];
}

# --- nothing starts without traffic -------------------------------------------

$t->wait_until(sub { ($c->desired('hello', 'v1')->{by} // '') eq 'controller' }, 5,
               'the scaler writes its decision for hello');
my $d = $c->desired('hello', 'v1');
is($d->{replicas}, 0, 'desired 0 with no traffic');
sleep 1;
is($c->count('hello', 'v1'), 0, 'and no replica is started');

# --- the first request at zero: 200, cold ---------------------------------------

my $t0 = time;
my $res = $t->get('/function/hello/first');
my $cold_ms = (time - $t0) * 1000;
is($res->{status}, 200, 'the first request to a function at zero is answered 200');
is($res->{json}{path}, '/first', 'by the function');
$t->wait_until(sub { @{ log_lines('hello') } == 1 }, 5, 'logged');
is(log_lines('hello')->[0][0], '1', '$faas_cold is 1');
diag(sprintf('cold request through nginx (park, wake, start, probe, publish): %.1f ms',
             $cold_ms));
my $last_request = time;

is($c->count('hello', 'v1'), 1, 'one replica started');
like($c->log, qr{wake for hello/v1: starting a replica}, 'by the wake');

# --- the wake is not undone: the replica stays for the idle period ------------

my $w = $c->watch($t, $IDLE_S - 1, 'hello', 'v1');
is($w->{procs_min}, 1, sprintf('the replica stays for %d s after the request (%d samples)',
                                $IDLE_S - 1, $w->{samples}));
is($w->{endpoints_min}, 1, 'and stays published');
$d = $c->desired('hello', 'v1');
is($d->{replicas}, 1, "desired 1 ($d->{reason})");
like($d->{reason}, qr/^(kept at 1: recent traffic|stable|wake)$/,
     'kept for its recent traffic');
is($d->{by}, 'controller', 'by the controller');
is($c->status('hello', 'v1')->{desired_reason}, $d->{reason},
   'the status hash has the reason too');
is(scalar(() = $c->log =~ /scaling hello\/v1 from 1 to 0/g), 0, 'never scaled down meanwhile');

# --- after idle with no traffic: zero ------------------------------------------

$t->wait_until(sub { $c->count('hello', 'v1') == 0 && !%{ $c->endpoints('hello', 'v1') } },
               $IDLE_S + 10, 'idle: no replica process and no endpoint');
my $zero_s = time - $last_request;
ok($zero_s >= $IDLE_S - 0.1, sprintf('not before idle: zero %.1f s after the last request',
                                     $zero_s));
$d = $c->desired('hello', 'v1');
is($d->{replicas}, 0, 'desired 0');
is($d->{reason}, 'idle: scale to zero', "reason: $d->{reason}");
$t->wait_until(sub { ($c->status('hello', 'v1')->{desired} // -1) == 0 }, 5,
               'status hash: desired 0');
like($c->log, qr{scaling hello/v1 from 1 to 0: idle: scale to zero}, 'the decision is logged');
diag(sprintf('idle=%ds: zero replicas %.1f s after the last request', $IDLE_S, $zero_s));

# --- the next request wakes it again -----------------------------------------------

$t0 = time;
$res = $t->get('/function/hello/again');
my $again_ms = (time - $t0) * 1000;
is($res->{status}, 200, 'the next request is answered 200');
$t->wait_until(sub { @{ log_lines('hello') } == 2 }, 5, 'logged');
is(log_lines('hello')->[1][0], '1', 'cold again ($faas_cold 1)');
is($c->count('hello', 'v1'), 1, 'one replica again');
diag(sprintf('cold request after scale to zero: %.1f ms', $again_ms));

# --- duplicate wakes: one replica -----------------------------------------------

my $many = $t->get_many('/function/dup/x?sleep_ms=200', 6, 6);
is(scalar(grep { $_->{status} == 200 } @$many), 6, 'six concurrent cold requests answered 200');
$t->redis('PUBLISH', 'faas:ch:wake', 'dup v1') for 1 .. 3;
$w = $c->watch($t, 1.5, 'dup', 'v1');
is($w->{procs_max}, 1, 'they and three more wake messages started one replica');
is(scalar(() = $c->log =~ /wake for dup\/v1/g), 1, 'one wake was acted on');
my @dup_log = @{ log_lines('dup') };
is(scalar(grep { $_->[0] eq '1' } @dup_log), 6, 'all six waited for it ($faas_cold 1)');

$c->stop;
is($c->exit_status, 0, 'the controller exits 0');
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

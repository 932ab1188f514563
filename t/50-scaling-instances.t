#!/usr/bin/perl
# Two nginx instances sharing one Redis have their load summed, end to end
# (process runtime, real Redis, two nginx, controller with its scaler on):
# a function with `concurrency 1` and `scale target=1 max=8` gets two
# clients on each nginx, each keeping one request in flight
# (?sleep_ms=400): each nginx alone reports a concurrency of 2, so counted
# alone it would ask for 2 replicas; summed they ask for 4, and 4 replicas
# run, never more (sampled).  Both nginx get the endpoints and answer 200.
# When one nginx stops, its metrics are missing (stale): nothing scales
# down, past the idle period, until it counts as gone (--instance-expiry);
# then the idle period is watched again and the function goes to zero.
#
# Short settings keep it fast: metrics every 200 ms (metrics=200ms), a
# decision every 500 ms (--tick 500ms), a 6 s stable window and a 2 s panic
# window (--stable-window 6s --panic-window 2s), metrics stale after 1 s
# and an nginx gone after 4 s (--metrics-stale 1s --instance-expiry 4s),
# and `scale idle=3s`.

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
my $LOAD_S = 5;

my $port = $t->start_redis;

# the same functions in both (nginx sharing a Redis must declare the same)
my $CONF = <<"END";
faas_zone  faas 4m;
faas_redis 127.0.0.1:$port metrics=200ms resync=500ms;

faas_function sum {
    revision v1 "exec=$TESTFN";
    concurrency 1;
    scale target=1 max=8 idle=3s;
    queue size=100 timeout=30s;
}

%%FRONT%%
END

my $t2 = FaasTest->new;
$t->start_nginx($CONF);
$t2->start_nginx($CONF);

my $c = FaasController->new($t, args => [ '--tick', '500ms', '--stable-window', '6s',
                                          '--panic-window', '2s', '--metrics-stale', '1s',
                                          '--instance-expiry', '4s' ]);
$c->start;

$t->wait_until(sub { @{ $t->redis('ZRANGEBYSCORE', 'faas:instances',
                                  int(time * 1000) - 1000, '+inf') } == 2 }, 10,
               'both nginx report to the same Redis');

# --- two clients on each nginx ---------------------------------------------------

my $path = '/function/sum/x?sleep_ms=400';
my $t0 = time;
my @loads = (FaasController::Load->start($t, $path, clients => 2, seconds => $LOAD_S),
             FaasController::Load->start($t2, $path, clients => 2, seconds => $LOAD_S));

my ($desired_max, %per_nginx_max);
my %w = (procs_max => 0, endpoints_max => 0, samples => 0);
while (time < $t0 + $LOAD_S) {
    my $s = $c->watch($t, 0.2, 'sum', 'v1');
    $w{$_} = $s->{$_} > $w{$_} ? $s->{$_} : $w{$_} for qw(procs_max endpoints_max);
    $w{samples} += $s->{samples};
    my $d = $c->desired('sum', 'v1');
    $desired_max = $d->{replicas}
        if defined $d->{replicas} && (!defined $desired_max || $d->{replicas} > $desired_max);

    # what each nginx reports on its own
    for my $inst (@{ $t->redis('ZRANGE', 'faas:instances', 0, -1) }) {
        my $json = $t->redis('HGET', "faas:metrics:$inst", 'sum:v1') // next;
        my $m = JSON::PP::decode_json($json);
        $per_nginx_max{$inst} = $m->{in_flight}
            if ($per_nginx_max{$inst} // -1) < $m->{in_flight};
    }
}
my @statuses = map { $_->wait } @loads;

is(scalar(keys %per_nginx_max), 2, 'two nginx instances reported the function');
is((sort { $b <=> $a } values %per_nginx_max)[0], 2,
   'each reported a concurrency of at most 2: ' . join(', ', map { "$_ => $per_nginx_max{$_}" }
                                                       sort keys %per_nginx_max));
is($desired_max, 4, 'the desired count went to 4 (their sum / target 1), never above');
is($w{endpoints_max}, 4, "4 ready endpoints, never more ($w{samples} samples)");
is($w{procs_max}, 4, '4 replica processes, never more');
for my $i (0, 1) {
    my $total = 0;
    $total += $_ for values %{ $statuses[$i] };
    is($statuses[$i]{200} // 0, $total, "nginx " . ($i + 1) . ": all $total requests answered 200");
}

# --- one nginx stops: its metrics are missing, then it is gone ----------------------

$t->wait_until(sub { $c->count('sum', 'v1') == 0 }, 20,
               'after the load and idle, the function goes to zero');

# one request wakes it; then nginx 2 stops, within the idle period
is($t->get('/function/sum/x')->{status}, 200, 'a request on nginx 1 wakes it');
$t2->stop_nginx;
my $stopped = time;

# idle (3 s) passes, but nginx 2 is missing (stale after 1 s) until it
# counts as gone (4 s after its last flush): the count is frozen
my (%w2, %seen);
while (time < $stopped + 4.5) {
    my $s = $c->watch($t, 0.25, 'sum', 'v1');
    $w2{min} = $s->{procs_min} if !defined $w2{min} || $s->{procs_min} < $w2{min};
    $w2{max} = $s->{procs_max} if !defined $w2{max} || $s->{procs_max} > $w2{max};
    $seen{ $c->desired('sum', 'v1')->{reason} // '' } = 1;
}
is($w2{min}, 1, 'while a stopped nginx is missing, past idle, nothing goes to zero');
is($w2{max}, 1, 'one replica');
ok($seen{'metrics incomplete: frozen'},
   'the reasons meanwhile include "metrics incomplete: frozen": ' . join(', ', sort keys %seen));
$t->wait_until(sub { $c->count('sum', 'v1') == 0 }, 15,
               'once it counts as gone and idle has passed again, zero');
my $zero_s = time - $stopped;
ok($zero_s >= 6.5, sprintf('not before --instance-expiry (4 s) and idle (3 s): %.1f s after '
                           . 'the stop', $zero_s));
diag(sprintf('two nginx, 2 clients each: desired %d; zero %.1f s after one nginx stopped',
             $desired_max // -1, $zero_s));

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;
$t2->log_clean_ok;

done_testing;

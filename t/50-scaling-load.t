#!/usr/bin/perl
# Scale up under sustained load and back down, end to end (process
# runtime, real Redis, nginx and controller with its scaler on): a
# function with `concurrency 1` and `scale target=1 max=4` gets 8 clients
# that each keep one request in flight (?sleep_ms=300) for several seconds;
# the replica count rises toward concurrency / target (8) and stops at
# max (4): the ready endpoints in Redis and the replica processes, sampled
# every 20 ms, never exceed 4; the status page shows desired 4.  Every
# request is answered 200.  Once the
# load stops, the count goes down at most 2x per decision and reaches zero
# after `idle`.
#
# Short settings keep it fast: nginx flushes metrics every 200 ms
# (metrics=200ms), the controller decides every 500 ms (--tick 500ms) over
# a 6 s stable window and a 2 s panic window (--stable-window 6s
# --panic-window 2s; the 60 s default would hold the panic count for a
# minute after the load), and `scale idle=3s`.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use FaasController;
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

my $TESTFN  = $t->testfn_path;
my $MAX     = 4;
my $CLIENTS = 8;
my $LOAD_S  = 6;

$t->start_redis;
$t->start_nginx(<<"END");
faas_zone  faas 4m;
faas_redis %%REDIS%% metrics=200ms resync=500ms;

faas_function burst {
    revision v1 "exec=$TESTFN";
    concurrency 1;
    scale target=1 max=$MAX idle=3s;
    queue size=100 timeout=30s;
}

%%FRONT%%
END

my $c = FaasController->new($t, args => [ '--tick', '500ms', '--stable-window', '6s',
                                          '--panic-window', '2s' ]);
$c->start;

# --- sustained load ------------------------------------------------------------

my $t0 = time;
my $load = FaasController::Load->start($t, '/function/burst/x?sleep_ms=300',
                                       clients => $CLIENTS, seconds => $LOAD_S);

# the desired counts the controller writes, sampled with the rest
my (%reasons, $desired_max, $reached_ms, $status_max);
my %w = (procs_max => 0, endpoints_max => 0, samples => 0);
while (time < $t0 + $LOAD_S) {
    my $s = $c->watch($t, 0.2, 'burst', 'v1');
    $w{$_} = $s->{$_} > $w{$_} ? $s->{$_} : $w{$_} for qw(procs_max endpoints_max);
    $w{samples} += $s->{samples};
    my $d = $c->desired('burst', 'v1');
    if (defined $d->{replicas}) {
        $reasons{ $d->{reason} } = 1;
        $desired_max = $d->{replicas} if !defined $desired_max || $d->{replicas} > $desired_max;
    }
    $reached_ms //= (time - $t0) * 1000 if $s->{endpoints_max} == $MAX;

    # the status page shows the count the controller works towards
    my $st = $t->get('/faas/status')->{json} || {};
    my ($rev) = map { @{ $_->{revisions} } } grep { $_->{name} eq 'burst' }
                @{ $st->{functions} || [] };
    my $shown = ($rev && $rev->{controller}) ? $rev->{controller}{desired} : undef;
    $status_max = $shown if defined $shown && (!defined $status_max || $shown > $status_max);
}
my $statuses = $load->wait;

is($w{endpoints_max}, $MAX, "the ready endpoints rose to max ($MAX), never above "
                            . "($w{samples} samples)");
is($w{procs_max}, $MAX, "the replica processes rose to $MAX, never above");
is($desired_max, $MAX, "the desired count rose to $MAX, never above");
ok($reasons{'bounded by max'}, 'bounded by max: ' . join(', ', sort keys %reasons));
is($status_max, $MAX, "the status page showed desired $MAX under \"controller\"");
like($c->log, qr{scaling burst/v1 from 1 to 4: panic|scaling burst/v1 from \d to 4: bounded by max},
     'the scale-up is logged with its reason');
my $total = 0;
$total += $_ for values %$statuses;
is($statuses->{200}, $total, "every request of the load was answered 200 ($total)");
# 4 replicas of concurrency 1 serve 4 requests of 300 ms at a time
ok($total >= $LOAD_S * $MAX, "and the load kept going ($total requests)");
diag(sprintf('%d clients, target 1, max %d: %d replicas ready %.0f ms after the first '
             . 'request; %d requests in %d s', $CLIENTS, $MAX, $MAX, $reached_ms // -1,
             $total, $LOAD_S));

# --- back down after the load ------------------------------------------------------

my $end = time;
$t->wait_until(sub { $c->count('burst', 'v1') == 0 && !%{ $c->endpoints('burst', 'v1') } },
               20, 'after the load and idle: zero replicas');
diag(sprintf('zero replicas %.1f s after the load stopped', time - $end));

# the decisions after the load, from the log: never more than halving
my @down = $c->log =~ /scaling burst\/v1 from (\d+) to (\d+)/g;
my @steps;
push @steps, [ splice(@down, 0, 2) ] while @down;
my @falls = grep { $_->[1] < $_->[0] } @steps;
ok(@falls >= 2, 'it stepped down: ' . join(', ', map { "$_->[0]->$_->[1]" } @falls));
is(scalar(grep { $_->[1] < $_->[0] / 2 && $_->[1] != 0 } @falls), 0,
   'at most 2x down per decision');
is($falls[-1][1], 0, 'the last step is to zero');
is($c->desired('burst', 'v1')->{reason}, 'idle: scale to zero', 'reason: idle');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

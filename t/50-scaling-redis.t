#!/usr/bin/perl
# Redis killed freezes scaling, end to end (process runtime, real Redis,
# nginx and controller with its scaler on): a function woken by one request
# has one replica and no more traffic; Redis is stopped before the idle
# period ends and stays away for more than twice that period: nothing goes
# to zero while the metrics are missing (the replica process is the same
# one all along, and still answers through nginx, which keeps the
# endpoints it knows).  When Redis comes back (empty: no persistence) the
# metrics come back and scaling resumes: the function goes to zero, and
# not before a whole idle period of complete metrics has been watched
# again.  A function with `scale min=1` keeps its replica throughout.
#
# Short settings keep it fast: `scale idle=3s`, metrics every 200 ms
# (faas_redis metrics=200ms) and a decision every 500 ms (--tick 500ms).

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
$t->start_nginx(<<"END");
faas_zone  faas 4m;
faas_redis %%REDIS%% metrics=200ms resync=500ms;

faas_function quiet {
    revision v1 "exec=$TESTFN";
    scale idle=${IDLE_S}s;
    queue size=100 timeout=10s;
}

faas_function floor {
    revision v1 "exec=$TESTFN";
    scale min=1 idle=${IDLE_S}s;
}

%%FRONT%%
END

my $c = FaasController->new($t, args => [ '--tick', '500ms' ]);
$c->start;

sub pids_of {
    my ($fn) = @_;
    my $p = $c->replica_pids;
    return join ',', sort grep { $p->{$_} =~ /^\Q$fn\E-/ } keys %$p;
}

is($t->get('/function/quiet/x')->{status}, 200, 'one request wakes quiet');
my $woken = time;
$t->wait_until(sub { $c->count('floor', 'v1') == 1 }, 10, 'floor has its replica');
my $quiet_pid = pids_of('quiet');
my $floor_pid = pids_of('floor');
ok($quiet_pid, "quiet runs as $quiet_pid");

# --- Redis away for more than twice the idle period --------------------------------

$t->stop_redis;
my $away = time;
ok($away - $woken < $IDLE_S, sprintf('Redis stopped %.1f s after the request, within idle',
                                     $away - $woken));

my $w = $c->watch($t, 2 * $IDLE_S + 1, 'quiet', 'v1');
is($w->{procs_min}, 1, sprintf('while Redis is away (%d s, idle=%ds) the replica stays',
                               2 * $IDLE_S + 1, $IDLE_S));
is(pids_of('quiet'), $quiet_pid, 'the very same process');
is(pids_of('floor'), $floor_pid, 'and floor keeps its own');
is($t->get('/function/quiet/during')->{status}, 200,
   'nginx still routes to it (warm traffic flows without Redis)');
unlike($c->log, qr{scaling quiet/v1 from 1 to 0|draining replica quiet}, 'nothing scaled down');

# no traffic from here: the request above was the last one

# --- Redis back: scaling resumes ----------------------------------------------------

$t->restart_redis;
my $back = time;
$t->wait_until(sub { $c->log =~ /connection back after \d+ ms/ }, 10, 'the controller reconnects');
$t->wait_until(sub { eval { ($c->desired('quiet', 'v1')->{by} // '') eq 'controller' } }, 10,
               'the controller writes its decisions again in the emptied Redis');

$t->wait_until(sub { $c->count('quiet', 'v1') == 0
                     && !eval { %{ $c->endpoints('quiet', 'v1') } } }, 20,
               'then quiet goes to zero: scaling resumed');
my $zero_s = time - $back;
ok($zero_s >= $IDLE_S - 0.1,
   sprintf('only after a whole idle period of metrics again (%.1f s after Redis came back)',
           $zero_s));
is($c->desired('quiet', 'v1')->{reason}, 'idle: scale to zero', 'reason: idle');
is(pids_of('floor'), $floor_pid, 'floor (min=1) kept its replica');
is($c->desired('floor', 'v1')->{replicas}, 1, 'desired 1 for it');
diag(sprintf('Redis away %.1f s; zero %.1f s after it came back (idle=%ds)',
             $back - $away, $zero_s, $IDLE_S));

is($t->get('/function/quiet/after')->{status}, 200, 'and a request wakes it again');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok(allow => [ qr/redis 127\.0\.0\.1:\d+: connection lost/ ]);
$t->log_clean_ok(allow => [ qr/redis|Redis/ ]);

done_testing;

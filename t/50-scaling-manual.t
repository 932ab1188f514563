#!/usr/bin/perl
# Counts written by hand beside the scaler (process runtime, real Redis,
# nginx and controller): with the scaler on, a count whose "by" is not
# "controller" is pinned (the scaler leaves it, past the idle period) and,
# announced on <prefix>ch:desired, applied at once; removing "by" gives the
# count back to the scaler, which takes an idle function to zero at most
# 2x per decision; a count written without "by" over the scaler's is
# written back by the scaler and starts nothing.  With --scaler off, the
# desired hash is whatever is written by hand (nothing goes to zero by
# itself) and wakes still start a replica.  A controller restarted with
# the scaler on and no desired hash keeps the replica it adopts until it
# has watched it idle.
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

faas_function pin {
    revision v1 "exec=$TESTFN";
    scale idle=${IDLE_S}s;
    queue size=100 timeout=10s;
}

%%FRONT%%
END

my $c = FaasController->new($t, args => [ '--tick', '500ms' ]);
$c->start;

sub write_count {
    my (@fields) = @_;
    $t->redis('HSET', 'faas:desired:pin:v1', @fields);
    $t->redis('PUBLISH', 'faas:ch:desired', 'pin v1');
}

$t->wait_until(sub { ($c->desired('pin', 'v1')->{by} // '') eq 'controller' }, 5,
               'the scaler owns the count at first');

# --- pinned by hand ------------------------------------------------------------

write_count('replicas', 2, 'reason', 'load test', 'by', 'manual');
$t->wait_until(sub { keys(%{ $c->endpoints('pin', 'v1') }) == 2 }, 5,
               'a count by hand ("by manual"), announced, runs 2 replicas');
like($c->log, qr{desired count of pin/v1 set by "manual" to 2}, 'logged');

my $w = $c->watch($t, $IDLE_S + 1.5, 'pin', 'v1');
is($w->{procs_min}, 2, sprintf('the scaler leaves it past idle (%d s without traffic)',
                               $IDLE_S + 1));
my $d = $c->desired('pin', 'v1');
is_deeply([ @$d{qw(replicas reason by)} ], [ 2, 'load test', 'manual' ],
          'the hash is as written');
is($c->status('pin', 'v1')->{desired_reason}, 'by manual: load test',
   'the status hash says who set it');

write_count('replicas', 3);
$t->wait_until(sub { keys(%{ $c->endpoints('pin', 'v1') }) == 3 }, 5,
               'still pinned ("by" kept): 3');

# --- given back to the scaler ------------------------------------------------------

$t->redis('HDEL', 'faas:desired:pin:v1', 'by');
$t->redis('PUBLISH', 'faas:ch:desired', 'pin v1');
$t->wait_until(sub { $c->count('pin', 'v1') == 0 }, 10,
               '"by" removed: the scaler takes the idle function to zero');
like($c->log, qr{desired count of pin/v1 given back to the scaler}, 'logged');
my @steps = $c->log =~ /scaling pin\/v1 from (\d+ to \d+)/g;
is_deeply(\@steps, [ '3 to 2', '2 to 1', '1 to 0' ], 'at most 2x down per decision: '
                                                     . join(', ', @steps));
is($c->desired('pin', 'v1')->{by}, 'controller', 'by the controller again');

# --- a count written without "by" while the scaler owns it -----------------------------

$t->redis('HSET', 'faas:desired:pin:v1', 'replicas', 2);
$t->wait_until(sub { ($c->desired('pin', 'v1')->{replicas} // -1) == 0 }, 5,
               'a count written without "by" is written back by the scaler');
is($c->count('pin', 'v1'), 0, 'and started nothing');
like($c->log, qr{faas:desired:pin:v1 was set to 2 without "by"}, 'the log says why');

$c->stop;
is($c->exit_status, 0, 'exits 0');

# --- --scaler off: counts by hand only ---------------------------------------------------

$c = FaasController->new($t, args => [ '--tick', '500ms', '--scaler', 'off' ]);
$c->start;
like($c->log, qr/scaler off/, 'started with the scaler off');

write_count('replicas', 1, 'reason', 'manual');
$t->wait_until(sub { keys(%{ $c->endpoints('pin', 'v1') }) == 1 }, 5,
               'a count by hand (no "by" needed) runs');
$w = $c->watch($t, $IDLE_S + 1.5, 'pin', 'v1');
is($w->{procs_min}, 1, 'and nothing goes to zero by itself');
is($c->desired('pin', 'v1')->{reason}, 'manual', 'the hash is left as written');

write_count('replicas', 0);
$t->wait_until(sub { $c->count('pin', 'v1') == 0 }, 10, 'desired 0 by hand: zero');
is($t->get('/function/pin/x')->{status}, 200, 'a request wakes it: answered 200');
is($c->count('pin', 'v1'), 1, 'one replica');
is($c->desired('pin', 'v1')->{reason}, 'wake', 'the wake is written as before');

# --- restarted with the scaler on and no desired hash: adopted, then idle --------

# the last request is older than idle when the new controller starts: only
# its rule of watching a whole idle period keeps the replica at first
sleep $IDLE_S + 0.5;
$c->stop;
my $pid_before = join ',', keys %{ $c->replica_pids };
$t->redis('DEL', 'faas:desired:pin:v1');
$c = FaasController->new($t, args => [ '--tick', '500ms' ]);
$c->start;
my $restarted = time;
$w = $c->watch($t, 2, 'pin', 'v1');
is($w->{procs_min}, 1, 'the replica found at start-up is kept, not stopped at once');
is(join(',', keys %{ $c->replica_pids }), $pid_before, 'the same process, adopted');
like($c->desired('pin', 'v1')->{reason}, qr/^kept at 1: not idle long enough$/,
     'the scaler starts from it: ' . $c->desired('pin', 'v1')->{reason});
$t->wait_until(sub { $c->count('pin', 'v1') == 0 }, 10,
               'and takes it to zero once it has watched it idle');
ok(time - $restarted >= $IDLE_S - 0.1,
   sprintf('after a whole idle period: %.1f s', time - $restarted));

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

#!/usr/bin/perl
# Replicas that fail: one that exits at once (exec=/bin/false) is restarted
# with a growing backoff and reported in the status hash; one that never
# listens is given up after --start-timeout; one that cannot be started
# at all (no such program) is an error; one that crashes after a while
# (TESTFN_EXIT_AFTER_MS) is unpublished and replaced.

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

$t->start_redis;
$t->start_nginx(<<"END");
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms;

faas_function falls {
    revision v1 "exec=/bin/false";
    scale min=1;
}

faas_function mute {
    revision v1 "exec=/bin/sleep 600";
    scale min=1;
}

faas_function absent {
    revision v1 "exec=/nonexistent/program --flag";
    scale min=1;
}

faas_function flaky {
    revision v1 "exec=$TESTFN";
    scale min=1;
    health /healthz;
    env TESTFN_EXIT_AFTER_MS=1500;
}

%%FRONT%%
END

# every endpoint event from the start on, read at the end
my $sub = $t->redis_subscribe('faas:ch:endpoints');

my $c = FaasController->new($t, args => [ '--start-timeout', '1s' ]);
$c->start;

# --- exits at once: backoff that grows ------------------------------------

# every start of the replica: its started_ms, from the record, sampled
my %starts;
my $deadline = time + 20;
while (time < $deadline && keys(%starts) < 6) {
    my $recs = $c->replicas('falls', 'v1');
    $starts{ $_->{started_ms} } = 1 for grep { $_->{started_ms} } values %$recs;
    sleep 0.01;
}
my @starts = sort { $a <=> $b } keys %starts;
cmp_ok(scalar(@starts), '>=', 6, 'the failing replica was started 6 times in 20 s');
my @gaps = map { $starts[$_] - $starts[ $_ - 1 ] } 1 .. $#starts;
diag("restart gaps (ms): @gaps");
ok($gaps[0] < 500, 'the first restart is immediate');
for my $i (2 .. $#gaps) {
    cmp_ok($gaps[$i], '>', $gaps[ $i - 1 ] * 1.5,
           "gap $i ($gaps[$i] ms) is about twice gap " . ($i - 1) . " ($gaps[$i-1] ms)");
}

$t->wait_until(sub { ($c->status('falls', 'v1')->{state} // '') eq 'backoff' }, 5,
               'status state: backoff (between two tries)');
my $st = $c->status('falls', 'v1');
is($st->{reason}, 'exited with status 1', 'status reason: the exit status');
is($st->{desired}, 1, 'status desired 1');
is($st->{ready}, 0, 'status ready 0');
my ($rec) = values %{ $c->replicas('falls', 'v1') };
is(scalar(keys %{ $c->replicas('falls', 'v1') }), 1,
   'one replica record: the same replica is restarted');
cmp_ok($rec->{restarts}, '>=', 5, "its restarts are counted ($rec->{restarts})");
is($rec->{last_exit}, 'exited with status 1', 'its last exit');
is(scalar(keys %{ $c->endpoints('falls', 'v1') }), 0, 'never published');

# --- never listens: given up after --start-timeout -----------------------

$t->wait_until(sub { ($c->status('mute', 'v1')->{reason} // '') =~ /not ready within 1000 ms/ },
               10, 'a replica that never listens: "not ready within 1000 ms"');
like($c->status('mute', 'v1')->{state}, qr/^(backoff|starting)$/,
     'and it is retried');
is(scalar(keys %{ $c->endpoints('mute', 'v1') }), 0, 'never published');

# --- cannot start at all: error ------------------------------------------

$t->wait_until(sub { ($c->status('absent', 'v1')->{state} // '') eq 'error' }, 10,
               'no such program: state error');
like($c->status('absent', 'v1')->{reason}, qr/nonexistent/,
     'the reason names the program: ' . $c->status('absent', 'v1')->{reason});

# --- crashes after a while: unpublished and replaced ---------------------

$t->wait_until(sub { ($c->replicas('flaky', 'v1') // {}) && grep { $_->{restarts} >= 1 && $_->{state} eq 'ready' }
                     values %{ $c->replicas('flaky', 'v1') } }, 10,
               'the crashing replica was restarted and is ready again');
my ($flaky) = values %{ $c->replicas('flaky', 'v1') };
is($flaky->{last_exit}, 'exited with status 3', 'its last exit: status 3');
my @events;
while (defined(my $m = $sub->next_message(0.2))) {
    push @events, $1 if $m =~ /^(up|down) flaky v1 /;
}
diag("endpoint events of flaky: @events");
cmp_ok(scalar(@events), '>=', 4, 'several crashes seen');
is("@events[0..3]", 'up down up down',
   'each crash is announced "down" at once, each restart "up" when ready');
ok(!grep({ $events[$_] eq $events[$_ - 1] } 1 .. $#events),
   'never two "up" or two "down" in a row');

$c->stop;
is($c->exit_status, 0, 'the controller exits 0');
$t->stop_nginx;

# these are the failures this test provokes
$c->log_clean_ok(allow => [ qr/cannot start: .*nonexistent/ ]);
$t->log_clean_ok;

done_testing;

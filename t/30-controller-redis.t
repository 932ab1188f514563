#!/usr/bin/perl
# Redis lost while running: replicas keep running and serving (never
# stopped because Redis is away), the loss and the return are logged once
# each, and when Redis comes back empty (restarted without persistence)
# the controller writes its endpoints and status again.

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

faas_function steady {
    revision v1 "exec=$TESTFN";
    scale min=2;
    health /healthz;
}

%%FRONT%%
END

my $c = FaasController->new($t);
$c->start;
$t->wait_until(sub { keys %{ $c->endpoints('steady', 'v1') } == 2 }, 10, 'two replicas published');
$t->wait_until(sub { $t->get('/function/steady/x')->{status} == 200 }, 5, 'steady answers');
my %pids = %{ $c->replica_pids };
my %eps = %{ $c->endpoints('steady', 'v1') };

# --- Redis away for 3 s -------------------------------------------------------

$t->stop_redis;
my @during;
for (1 .. 15) {
    push @during, $t->get('/function/steady/x')->{status};
    sleep 0.2;
}
is(scalar(grep { $_ == 200 } @during), 15, 'requests keep being answered while Redis is away');
is_deeply($c->replica_pids, \%pids, 'no replica stopped or restarted while Redis is away');
is(scalar(() = $c->log =~ /connection lost/g), 1, 'the loss is logged once');

# --- back, empty ------------------------------------------------------------

$t->start_redis(port => $t->redis_port);

# the heartbeat lets nginx drop replicas missing from the endpoint hashes:
# it must not come back before the endpoints did
my ($early, $seen) = (0, 0);
my $until = time + 10;
while (time < $until && !$seen) {
    my ($hb, $n) = eval {
        ($t->redis('EXISTS', 'faas:controller'), scalar(keys %{ $c->endpoints('steady', 'v1') }))
    } or next;
    $seen = $hb;
    $early++ if $hb && $n != 2;
    sleep 0.002;
}
ok($seen, 'the heartbeat is written again');
is($early, 0, 'never before both endpoints are published again');
$t->wait_until(sub { $c->log =~ /connection back after \d+ ms/ }, 10, 'reconnected');
is(scalar(() = $c->log =~ /connection back/g), 1, 'the return is logged once');
$t->wait_until(sub { eval { keys(%{ $c->endpoints('steady', 'v1') }) == 2 } }, 10,
               'the endpoints are written again into the empty Redis');
is_deeply($c->endpoints('steady', 'v1'), \%eps, 'the same replicas at the same addresses');
$t->wait_until(sub { eval { ($c->status('steady', 'v1')->{state} // '') eq 'ok' } }, 10,
               'the status hash is written again');
is(scalar(keys %{ $c->replicas('steady', 'v1') }), 2, 'and the replica records');
is_deeply($c->replica_pids, \%pids, 'the same replica processes throughout');
is($t->get('/function/steady/x')->{status}, 200, 'steady answers');

my $ttl = $t->redis('PTTL', 'faas:controller');
ok($ttl > 0 && $ttl <= 5000, "the heartbeat has a TTL ($ttl ms)");
$c->stop;
is($t->redis('EXISTS', 'faas:controller'), 0, 'a controller that exits removes its heartbeat');
$t->stop_nginx;
$c->log_clean_ok(allow => [ qr/redis 127\.0\.0\.1:\d+: connection lost/ ]);
$t->log_clean_ok(allow => [ qr/redis|Redis/ ]);

done_testing;

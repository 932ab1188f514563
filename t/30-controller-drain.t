#!/usr/bin/perl
# Drain before stop: when desired goes from 2 to 1, the replica removed is
# unpublished first and stopped only once every nginx reports nothing in
# flight on it, so slow requests in flight on it all answer 200; one that
# stays busy is stopped at --drain-timeout.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use FaasController;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

my $TESTFN = $t->testfn_path;

$t->start_redis;
$t->start_nginx(<<"END");
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms;

faas_function slow {
    revision v1 "exec=$TESTFN";
    health /healthz;
}

proxy_read_timeout 30s;

%%FRONT%%
END

my $c = FaasController->new($t, args => [ '--drain-timeout', '4s' ]);
$c->start;

# counts by hand ("by" set: the scaler leaves them alone)
$t->redis('HSET', 'faas:desired:slow:v1', 'replicas', 2, 'by', 'manual');
$t->wait_until(sub { keys %{ $c->endpoints('slow', 'v1') } == 2 }, 10, 'two replicas published');
my %port_of = reverse %{ $c->endpoints('slow', 'v1') };
$t->wait_until(sub { $t->get('/function/slow/x')->{status} == 200 }, 5, 'nginx routes to them');

# slow requests in flight on both replicas, from a child process
sub slow_requests {
    my ($n, $sleep_ms) = @_;
    my $out = $t->prefix . "/slow-$$-" . int(rand(1e9));
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $res = $t->get_many("/function/slow/s?sleep_ms=$sleep_ms", $n, $n);
        open(my $fh, '>', $out) or POSIX::_exit(1);
        print $fh join("\n", map { "$_->{status} " . ($_->{headers}{'x-testfn-port'} // '-') } @$res), "\n";
        close $fh;
        POSIX::_exit(0);
    }
    return sub {
        waitpid($pid, 0);
        open(my $fh, '<', $out) or return [];
        return [ map { [ split / / ] } grep { /\S/ } <$fh> ];
    };
}

# --- 2 -> 1 with requests in flight -------------------------------------------

my $done = slow_requests(10, 2000);
sleep 0.5;    # the requests are on the replicas now
my $t0 = time;
$t->redis('HSET', 'faas:desired:slow:v1', 'replicas', 1);

$t->wait_until(sub { keys %{ $c->endpoints('slow', 'v1') } == 1 }, 5,
               'one replica unpublished at once');
my ($gone_id) = grep { !exists $c->endpoints('slow', 'v1')->{$_} } values %port_of;
my %reps = %{ $c->replicas('slow', 'v1') };
is($reps{$gone_id}{state}, 'draining', "the removed replica $gone_id is draining");
ok(grep({ $_ eq $gone_id } values %{ $c->replica_pids }), 'and still runs while requests are in flight');

my $results = $done->();
is(scalar(@$results), 10, '10 slow requests came back');
is(scalar(grep { $_->[0] == 200 } @$results), 10, 'every request in flight answered 200');
my %ports = map { $_->[1] => 1 } @$results;
is(scalar(keys %ports), 2, 'they were spread over both replicas');

$t->wait_until(sub { !grep { $_ eq $gone_id } values %{ $c->replica_pids } }, 10,
               'the drained replica is stopped');
my $drain_s = time - $t0;
cmp_ok($drain_s, '>=', 1.4, sprintf('not before its requests ended (%.1f s)', $drain_s));
$t->wait_until(sub { !exists $c->replicas('slow', 'v1')->{$gone_id} }, 5,
               'its record is gone');
like($c->log, qr/replica \Q$gone_id\E of slow\/v1 drained in \d+ ms/, 'logged as drained');
is($t->get('/function/slow/x')->{status}, 200, 'the other replica still answers');

# --- a replica that stays busy is stopped at the drain timeout ---------------

$t->redis('HSET', 'faas:desired:slow:v1', 'replicas', 2);
$t->wait_until(sub { keys %{ $c->endpoints('slow', 'v1') } == 2 }, 10, 'two replicas again');
my $long = slow_requests(4, 8000);
sleep 0.5;
$t0 = time;
$t->redis('HSET', 'faas:desired:slow:v1', 'replicas', 1);
$t->wait_until(sub { keys %{ $c->endpoints('slow', 'v1') } == 1 }, 5, 'one unpublished');
$t->wait_until(sub { $c->log =~ /still busy after the drain timeout \(4000 ms\)/ }, 10,
               'the busy replica is stopped at the drain timeout');
my $waited = time - $t0;
ok($waited > 3.5 && $waited < 7, sprintf('after about 4 s (%.1f s)', $waited));
$results = $long->();
cmp_ok(scalar(grep { $_->[0] == 200 } @$results), '>=', 1,
       'requests on the replica that stayed answered 200');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok(allow => [ qr/upstream prematurely closed|Connection reset/ ]);

done_testing;

#!/usr/bin/perl
# Balancing: least in-flight across replicas (and workers), failover from a
# replica that refuses connections, the per-replica concurrency limit (a
# request over it waits in the queue, or gets 503 with "queue size=0"), and
# keep-alive connections to the replicas.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

$t->start_redis;

my $lb_a = $t->start_fn(function => 'lb', revision => 'v1');
my $lb_b = $t->start_fn(function => 'lb', revision => 'v1');
my $fo   = $t->start_fn(function => 'fo', revision => 'v1');
my $one  = $t->start_fn(function => 'one', revision => 'v1');
my $oneq = $t->start_fn(function => 'oneq', revision => 'v1');
my $ka   = $t->start_fn(function => 'ka', revision => 'v1');
my $nk   = $t->start_fn(function => 'nk', revision => 'v1');
my $refusing = $t->start_refusing_port;
my $WORKERS = $t->asan ? 1 : 2;

$t->start_nginx(<<'EOF');
    faas_zone  faas 1m;
    faas_redis %%REDIS%%;

    faas_function lb  { revision v1 "exec=/bin/true"; }
    faas_function fo  { revision v1 "exec=/bin/true"; }
    faas_function one { revision v1 "exec=/bin/true"; concurrency 1; queue size=0; }
    faas_function oneq {
        revision v1 "exec=/bin/true";
        concurrency 1;
        queue size=20 timeout=10s;
    }
    faas_function ka  { revision v1 "exec=/bin/true"; }
    faas_function nk  { revision v1 "exec=/bin/true"; }

    upstream faas {
        faas_balancer;
        keepalive 16;
    }
    upstream faas_nokeepalive {
        faas_balancer;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /function/ {
            faas_pass;
            proxy_pass http://faas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /nokeepalive/ {
            faas_pass nk;
            proxy_pass http://faas_nokeepalive;
        }
        location = /faas/status { faas_status; }
    }
EOF

# --- helpers ---------------------------------------------------------------

# The replica's own /stats (asked directly, not through nginx).
sub fn_stats {
    my ($fn, $reset) = @_;
    my $r = $t->get("http://$fn->{addr}/stats" . ($reset ? '?reset=1' : ''));
    return $r->{json} || {};
}



# The in-flight count a replica reported in its echo of a get_many result.
sub in_flight_seen {
    my ($res) = @_;
    my $json = eval { JSON::PP->new->decode($res->{body}) } || {};
    return $json->{in_flight} // 'none';
}


sub replica_of {
    my ($rev, $id) = @_;
    my ($r) = grep { $_->{id} eq $id } @{ $rev->{replicas} || [] };
    return $r;
}

# The client ports of the open (ESTAB) TCP connections to 127.0.0.1:$port,
# from ss(8).
sub open_connections {
    my ($port) = @_;
    my %ports;
    for my $line (`ss -tanH '( sport = :$port or dport = :$port )'`) {
        my @f = split ' ', $line;
        next if !@f || $f[0] ne 'ESTAB';
        my ($l, $p) = @f[3, 4];
        my ($lport) = $l =~ /:(\d+)$/;
        my ($pport) = $p =~ /:(\d+)$/;
        next unless defined $lport && defined $pport;
        my $client = $lport == $port ? $pport : $lport;
        $ports{$client} = 1;
    }
    return \%ports;
}

# --- least in flight -------------------------------------------------------

$t->publish_endpoint('lb', 'v1', 'a', $lb_a->{addr});
$t->wait_until(sub { $t->get('/function/lb/')->{status} == 200 }, 5, 'replica a of lb routed');

{
    fn_stats($_, 1) for $lb_a, $lb_b;

    # with only a published: 4 slow requests all land on a
    my @held = map { $t->send_request('GET', '/function/lb/?sleep_ms=1500') } 1 .. 4;
    $t->wait_until(sub { fn_stats($lb_a)->{in_flight} == 4 }, 5, '4 slow requests in flight on a');

    $t->publish_endpoint('lb', 'v1', 'b', $lb_b->{addr});
    $t->wait_until(sub { ($t->revision_status('lb', 'v1') || {})->{ready} == 2 }, 5, 'replica b ready');

    # a holds 4: the next 4 go to b, the least loaded, however they are spread over workers
    my $res = $t->get_many('/function/lb/?sleep_ms=300', 4, 4);
    is(scalar(grep { $_->{status} == 200 } @$res), 4, 'least in-flight: 4 more requests answered 200');
    is(scalar(grep { ($_->{headers}{'x-testfn-port'} // '') eq $lb_b->{port} } @$res), 4,
       'least in-flight: all 4 went to the idle replica while the other held 4');
    my @held_res = map { $t->read_response($_) } @held;
    is(scalar(grep { $_->{status} == 200 } @held_res), 4, 'the 4 held requests answered 200');
}

{
    $t->wait_until(sub { fn_stats($lb_a)->{in_flight} == 0 && fn_stats($lb_b)->{in_flight} == 0 },
                   5, 'both lb replicas idle');
    my $sa = fn_stats($lb_a, 1);
    my $sb = fn_stats($lb_b, 1);

    my $res = $t->get_many('/function/lb/?sleep_ms=1500', 10, 10);
    is(scalar(grep { $_->{status} == 200 } @$res), 10, '10 parallel slow requests answered 200');
    my %by_port;
    $by_port{ $_->{headers}{'x-testfn-port'} // '?' }++ for @$res;
    is($by_port{ $lb_a->{port} } // 0, 5, 'least in-flight: replica a answered 5 of 10 parallel requests');
    is($by_port{ $lb_b->{port} } // 0, 5, 'least in-flight: replica b answered 5 of 10 parallel requests');
    $sa = fn_stats($lb_a);
    $sb = fn_stats($lb_b);
    is($sa->{max_in_flight}, 5, 'replica a saw at most 5 in flight');
    is($sb->{max_in_flight}, 5, 'replica b saw at most 5 in flight');

    # the shared counters went back to 0
    $t->wait_until(sub {
        my $rev = $t->revision_status('lb', 'v1');
        $rev->{in_flight} == 0 && !grep { $_->{in_flight} } @{ $rev->{replicas} };
    }, 5, 'in-flight counters back to 0 once the requests are answered');
}

# --- failover from a refusing replica --------------------------------------

$t->publish_endpoint('fo', 'v1', 'bad', "127.0.0.1:$refusing");
$t->publish_endpoint('fo', 'v1', 'good', $fo->{addr});
$t->wait_until(sub { ($t->revision_status('fo', 'v1') || {})->{ready} == 2 }, 5, 'both fo replicas ready');

{
    my $start = time;
    my ($ok, $from_good) = (0, 0);
    for (1 .. 50) {
        my $r = $t->get('/function/fo/');
        $ok++ if $r->{status} == 200;
        $from_good++ if ($r->{headers}{'x-testfn-port'} // '') eq $fo->{port};
    }
    my $elapsed = time - $start;
    is($ok, 50, 'failover: 50 requests with a refusing replica all answered 200');
    is($from_good, 50, 'failover: all answered by the replica that accepts');

    my $rev = $t->revision_status('fo', 'v1');
    my $bad = replica_of($rev, 'bad') || {};
    my $good = replica_of($rev, 'good') || {};
    cmp_ok($bad->{failures} // 0, '>=', 1, 'status counts failures on the refusing replica');
    # avoided for 2 s after a refusal: at most one more try per 2 s
    my $max = 1 + int($elapsed / 2);
    cmp_ok($bad->{failures} // 0, '<=', $max,
           "the refusing replica is avoided after a failure ($bad->{failures} failures in "
           . sprintf('%.1f', $elapsed) . " s)");
    is($good->{failures}, 0, 'no failure counted on the good replica');
    is($good->{requests}, 50, 'the good replica counted 50 requests');
    is($rev->{failures}, $bad->{failures}, 'revision failures equal the replica failures');
    is($rev->{replays}, 0, 'a refused request is retried on the other replica, never sent back to the queue');
    is($bad->{state}, 'ready', 'a refusing replica stays published (ready): Redis says so');
    is($rev->{in_flight} + $bad->{in_flight} + $good->{in_flight}, 0,
       'failover gives back every slot: nothing left in flight');

    # the avoidance ends after 2 s: the replica is tried again
    my $before = $bad->{failures} // 0;
    my ($again, $all_ok) = (0, 1);
    while (time - $start < 8) {
        my $r = $t->get('/function/fo/');
        $all_ok = 0 if $r->{status} != 200;
        if (((replica_of($t->revision_status('fo', 'v1'), 'bad') || {})->{failures} // 0) > $before) {
            $again = time;
            last;
        }
        sleep 0.02;
    }
    ok($again, 'the refusing replica is tried again once its avoidance ends');
    cmp_ok($again - $start, '>=', 1.9, sprintf('... not before 2 s (%.2f s after the first requests)',
                                                $again - $start)) if $again;
    ok($all_ok, '... and the requests meanwhile all answered 200');
}

# A POST is retried with its body.  Re-publishing the refusing replica
# makes it a candidate again (its avoidance ends), so that about half of
# these requests try it first.
{
    my $body = join '', map { chr(65 + $_ % 26) } 1 .. 20_000;
    my $before = (replica_of($t->revision_status('fo', 'v1'), 'bad') || {})->{failures} // 0;
    my ($ok, $intact) = (0, 0);
    for (1 .. 20) {
        $t->unpublish_endpoint('fo', 'v1', 'bad');
        $t->publish_endpoint('fo', 'v1', 'bad', "127.0.0.1:$refusing");
        my $r = $t->request('POST', '/function/fo/', $body);
        $ok++ if $r->{status} == 200;
        $intact++ if ($r->{json}{body_len} // -1) == length $body;
    }
    my $after = (replica_of($t->revision_status('fo', 'v1'), 'bad') || {})->{failures} // 0;
    is($ok, 20, 'failover: 20 POSTs answered 200');
    is($intact, 20, 'failover: every POST reached the good replica with its whole body');
    cmp_ok($after - $before, '>=', 1, 'failover: some of these POSTs were refused first (' . ($after - $before) . ')');
    my $rev = $t->revision_status('fo', 'v1');
    is($rev->{in_flight}, 0, 'failover: nothing left in flight');
    is($rev->{replays} + $rev->{parked}, 0, 'failover: no POST went back to the queue');
}

# --- concurrency limit -----------------------------------------------------

$t->publish_endpoint('one', 'v1', 'o1', $one->{addr});
$t->wait_until(sub { $t->get('/function/one/')->{status} == 200 }, 5, 'replica of one routed');

{
    fn_stats($one, 1);
    my $held = $t->send_request('GET', '/function/one/?sleep_ms=1500');
    $t->wait_until(sub { fn_stats($one)->{in_flight} == 1 }, 5, 'one slow request in flight');

    my $r = $t->get('/function/one/');
    is($r->{status}, 503, 'concurrency 1, queue size=0: a second request while the first is in flight gets 503');
    is($r->{headers}{'retry-after'}, '1', '... with Retry-After: 1');
    is_deeply($r->{json}, { error => 'no ready replica', function => 'one', revision => 'v1' },
              '... and the JSON error') or diag $r->{content};

    my $first = $t->read_response($held);
    is($first->{status}, 200, 'concurrency 1: the first request still answers 200');

    $r = $t->get('/function/one/');
    is($r->{status}, 200, 'concurrency 1: once it is done the next request answers 200');

    # many at once over both workers: never more than 1 on the replica
    my $res = $t->get_many('/function/one/?sleep_ms=200', 10, 10);
    my $n200 = grep { $_->{status} == 200 } @$res;
    my $n503 = grep { $_->{status} == 503 } @$res;
    is($n200 + $n503, 10, 'concurrency 1, queue size=0: 10 parallel requests get 200 or 503');
    cmp_ok($n503, '>=', 1, "concurrency 1, queue size=0: some parallel requests are refused ($n503 of 10)");
    # each answer is built after its sleep: had two overlapped, one would see 2
    is_deeply([ map { in_flight_seen($_) } grep { $_->{status} == 200 } @$res ], [ (1) x $n200 ],
              'concurrency 1: every request answered 200 ran alone on the replica');

    my $rev = $t->revision_status('one', 'v1');
    is($rev->{rejected}, 1 + $n503, 'status counts every 503 as rejected');
    is($rev->{queue_waits} + $rev->{parked}, 0, 'with queue size=0 no request waited');
}

# with a queue, a request over the limit waits for the slot instead
$t->publish_endpoint('oneq', 'v1', 'q1', $oneq->{addr});
$t->wait_until(sub { $t->get('/function/oneq/')->{status} == 200 }, 5, 'replica of oneq routed');

{
    fn_stats($oneq, 1);
    my $held = $t->send_request('GET', '/function/oneq/?sleep_ms=1000');
    $t->wait_until(sub { fn_stats($oneq)->{in_flight} == 1 }, 5, 'one slow request in flight on oneq');

    my $r = $t->get('/function/oneq/second?sleep_ms=300');
    is($r->{status}, 200, 'concurrency 1 with a queue: a second request while the first is in flight gets 200');
    is($r->{json}{in_flight}, 1, '... from the replica once the first was done (alone in flight 300 ms later)');
    is($t->read_response($held)->{status}, 200, '... and the first one answers 200');
    is($t->revision_status('oneq', 'v1')->{queue_waits}, 1, 'the second request is counted as a queue wait');

    my $t0 = time;
    my $res = $t->get_many('/function/oneq/?sleep_ms=100', 10, 10);
    my $took = time - $t0;
    is(scalar(grep { $_->{status} == 200 } @$res), 10,
       'concurrency 1 with a queue: 10 parallel requests all answered 200');
    is_deeply([ map { in_flight_seen($_) } @$res ], [ (1) x 10 ],
              '... one at a time on the replica (each alone in flight at the end of its 100 ms)');
    cmp_ok($took, '>=', 0.95, sprintf('... so they took 10 x 100 ms at least (%.2f s)', $took));

    my $rev = $t->revision_status('oneq', 'v1');
    is($rev->{rejected}, 0, 'nothing was rejected');
    cmp_ok($rev->{queue_waits}, '>=', 1 + 1,
           "requests over the limit waited for the slot ($rev->{queue_waits} queue waits in all)");
    is($rev->{in_flight} + $rev->{parked}, 0, 'nothing left in flight or waiting');
}

# --- keep-alive to the replicas --------------------------------------------

$t->publish_endpoint('ka', 'v1', 'k1', $ka->{addr});
$t->publish_endpoint('nk', 'v1', 'n1', $nk->{addr});
$t->wait_until(sub { ($t->revision_status('ka', 'v1') || {})->{ready} == 1
                     && ($t->revision_status('nk', 'v1') || {})->{ready} == 1 }, 5, 'ka and nk ready');

SKIP: {
    skip 'ss(8) not available', 6 unless system('ss -V >/dev/null 2>&1') == 0;

    # open connections are counted: a closed one may leave no TIME-WAIT
    # entry behind (the kernel drops them when its table is full, and
    # reuses their ports on loopback), so closed ones cannot be counted
    $t->get('/function/ka/') for 1 .. 20;
    my %open_ka = %{ open_connections($ka->{port}) };
    cmp_ok(scalar(keys %open_ka), '>=', 1, 'with keepalive: connections to the replica stay open between requests');

    my ($ok_ka, $ok_nk) = (0, 0);
    for (1 .. 100) {
        $ok_ka++ if $t->get('/function/ka/')->{status} == 200;
        $ok_nk++ if $t->get('/nokeepalive/')->{status} == 200;
    }
    is($ok_ka + $ok_nk, 200, '100 requests through each upstream answered 200');

    my %after_ka = %{ open_connections($ka->{port}) };
    is(scalar(grep { $after_ka{$_} } keys %open_ka), scalar(keys %open_ka),
       'with keepalive: the connections open before 100 more requests are still open after them (reused)');
    cmp_ok(scalar(keys %after_ka), '<=', $WORKERS,
           'with keepalive: sequential requests need at most one connection per worker ('
           . scalar(keys %after_ka) . ')');
    ok($t->wait_until(sub { !keys %{ open_connections($nk->{port}) } }, 2, 'nk connections closed'),
       'without keepalive: no connection to the replica stays open');

    # the control: the count does see nginx's connections to that replica
    my $held = $t->send_request('GET', '/nokeepalive/?sleep_ms=1000');
    ok($t->wait_until(sub { keys %{ open_connections($nk->{port}) } >= 1 }, 5, 'nk connection seen'),
       'without keepalive: the connection of a request in flight is seen open');
    $t->read_response($held);
}

$t->log_clean_ok(allow => [ qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream.*127\.0\.0\.1:$refusing/ ]);

done_testing;

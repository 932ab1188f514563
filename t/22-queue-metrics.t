#!/usr/bin/perl
# Metrics in Redis: every nginx writes absolute per-revision snapshots on a
# timer, with a TTL, and lists itself in faas:instances; a WebSocket held
# open counts as in flight for as long as it is open; flushes that cannot
# reach Redis are dropped and counted, never queued on requests.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;
$t->start_redis;

$t->start_nginx(<<'EOF');
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms metrics=200ms;

faas_function ws {
    revision v1 "exec=/bin/true";
}

faas_function busy {
    revision v1 "exec=/bin/true";
    concurrency 2;
}

map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      '';
}

upstream faas {
    faas_balancer;
    keepalive 16;
}

server {
    listen 127.0.0.1:%%PORT%%;

    location /function/ {
        faas_pass;
        proxy_pass http://faas;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_read_timeout 60s;
    }

    location = /faas/status { faas_status; }
}
EOF

# this nginx's snapshot of FN:REV in Redis, decoded, or undef
sub snapshot {
    my ($fn_rev) = @_;
    my $instances = $t->redis('ZRANGE', 'faas:instances', 0, -1);
    return undef unless @$instances == 1;
    my $json = $t->redis('HGET', "faas:metrics:$instances->[0]", $fn_rev);
    return defined $json ? decode_json($json) : undef;
}

my $ws_fn = $t->start_fn(function => 'ws', revision => 'v1');
$t->publish_endpoint('ws', 'v1', 'r1', $ws_fn->{addr});
my $busy_fn = $t->start_fn(function => 'busy', revision => 'v1');
$t->publish_endpoint('busy', 'v1', 'b1', $busy_fn->{addr});

# --- the keys ----------------------------------------------------------------

ok($t->wait_until(sub { defined snapshot('ws:v1') }, 5, 'a snapshot in Redis'),
   'nginx writes a snapshot of each revision to Redis');

my $instances = $t->redis('ZRANGE', 'faas:instances', 0, -1, 'WITHSCORES');
like($instances->[0], qr/^[^:]+:\d+$/, 'the instance is named host:master-pid');
cmp_ok(abs($instances->[1] / 1000 - time), '<', 5, 'its score is the time of its last flush');

my $key = "faas:metrics:$instances->[0]";
my $ttl = $t->redis('PTTL', $key);
cmp_ok($ttl, '>', 0, 'the metrics key expires, so that a dead nginx ages out');
cmp_ok($ttl, '<=', 5000, 'within a few intervals');

my $snap = snapshot('ws:v1');
is_deeply([ sort keys %$snap ],
          [ sort qw(in_flight active parked ready requests last_request_ms
                    cold_starts rejected timeouts aborted at_ms replicas) ],
          'a snapshot holds every documented field');
is($snap->{ready}, 1, 'ready replicas');
is_deeply($snap->{replicas}, { r1 => 0 }, 'and each replica with its in-flight count');

# --- the counts follow the traffic -------------------------------------------

$t->get_many('/function/ws/x', 10, 5);
ok($t->wait_until(sub { (snapshot('ws:v1') // {})->{requests} == 10 }, 5, 'requests'),
   'the request total is an absolute count');
cmp_ok(abs(snapshot('ws:v1')->{last_request_ms} / 1000 - time), '<', 5,
       'the last request time is recent');

# requests holding a slot, and requests parked behind them, are in flight
my @slow = map {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->nginx_port) or die;
    print {$s} "GET /function/busy/x?sleep_ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n";
    $s;
} 1 .. 5;

ok($t->wait_until(sub {
       my $s = snapshot('busy:v1') // {};
       ($s->{active} // 0) == 2 && ($s->{parked} // 0) == 3 && ($s->{in_flight} // 0) == 5
   }, 5, 'busy snapshot'),
   'in_flight counts the two requests on the replica and the three parked');
close $_ for @slow;

# --- a WebSocket is in flight as long as it is open ----------------------------

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->nginx_port) or die;
    print {$s} "GET /function/ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             . "Sec-WebSocket-Version: 13\r\n\r\n";
    my $head = '';
    while (my $line = <$s>) {
        $head .= $line;
        last if $line eq "\r\n";
    }
    like($head, qr{^HTTP/1\.1 101}, 'the WebSocket upgrade goes through');

    # idle for several flushes: still counted
    sleep 1.5;
    my $snap = snapshot('ws:v1');
    is($snap->{in_flight}, 1, 'an idle open WebSocket keeps in_flight at 1 in Redis');
    is($snap->{replicas}{r1}, 1, 'on its replica too');

    print {$s} "ping";
    my $echo = '';
    sysread($s, $echo, 4);
    is($echo, 'ping', 'the connection still carries data');

    close $s;
    ok($t->wait_until(sub { (snapshot('ws:v1') // {})->{in_flight} == 0 }, 5, 'closed'),
       'once closed, in_flight goes back to 0');
}

# --- Redis away: flushes are dropped and counted, traffic goes on ------------

{
    $t->stop_redis;
    my $res = $t->get_many('/function/ws/x', 20, 5);
    is(scalar(grep { $_->{status} == 200 } @$res), 20, 'requests are served while Redis is away');
    ok($t->wait_until(sub { $t->get('/faas/status')->{json}{metrics_dropped} > 0 }, 5, 'dropped'),
       'the status page counts the metrics that could not be written');

    $t->restart_redis;
    ok($t->wait_until(sub { defined snapshot('ws:v1') }, 10, 'snapshot again'),
       'snapshots are written again once Redis is back');
    is(snapshot('ws:v1')->{requests} >= 30 ? 1 : 0, 1,
       'with the absolute count that includes the outage');
}

$t->log_clean_ok;

done_testing;

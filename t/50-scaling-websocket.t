#!/usr/bin/perl
# A WebSocket held open prevents scale to zero, end to end (process runtime,
# real Redis, nginx and controller with its scaler on): the upgrade to a
# function at zero wakes it and goes through (101); while the connection
# stays open, silent, for twice the idle period, the replica stays (one
# process, one endpoint) and the connection still echoes; once it is
# closed the function goes to zero after `idle`.  A plain function beside
# it, requested once, goes to zero meanwhile (the decisions do run).
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
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

my $TESTFN = $t->testfn_path;
my $IDLE_S = 3;

$t->start_redis;
$t->start_nginx(<<"END", access_log_format => '$faas_function $faas_cold $status');
faas_zone  faas 4m;
faas_redis %%REDIS%% metrics=200ms resync=500ms;

faas_function chat {
    revision v1 "exec=$TESTFN";
    scale idle=${IDLE_S}s;
    queue size=100 timeout=10s;
}

faas_function plain {
    revision v1 "exec=$TESTFN";
    scale idle=${IDLE_S}s;
}

map \$http_upgrade \$connection_upgrade {
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
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection \$connection_upgrade;
        proxy_read_timeout 60s;
    }
}
END

my $c = FaasController->new($t, args => [ '--tick', '500ms' ]);
$c->start;

# --- the upgrade wakes the function and goes through -------------------------------

my $ws = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->nginx_port, Timeout => 10)
    or die "connect: $!";
print {$ws} "GET /function/chat/socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
          . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          . "Sec-WebSocket-Version: 13\r\n\r\n";
my $head = '';
while (my $line = <$ws>) {
    $head .= $line;
    last if $line eq "\r\n";
}
like($head, qr{^HTTP/1\.1 101}, 'the WebSocket upgrade to a function at zero goes through');
like($head, qr{^Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r$}mi,
     'answered by the function');
is($c->count('chat', 'v1'), 1, 'one replica started for it');

sub echo_ok {
    my ($what) = @_;
    print {$ws} $what;
    my $got = '';
    while (length($got) < length($what)) {
        my $r = sysread($ws, my $chunk, 64);
        last unless $r;
        $got .= $chunk;
    }
    return $got eq $what;
}
ok(echo_ok('hello'), 'it echoes');

is($t->get('/function/plain/x')->{status}, 200, 'the plain function answers once');

# --- open and silent for twice the idle period: kept ---------------------------------

my $w = $c->watch($t, 2 * $IDLE_S, 'chat', 'v1');
is($w->{procs_min}, 1, sprintf('the open WebSocket keeps its replica for %d s, idle=%ds '
                               . '(%d samples)', 2 * $IDLE_S, $IDLE_S, $w->{samples}));
is($w->{procs_max}, 1, 'exactly one');
is($w->{endpoints_min}, 1, 'and keeps it published');
my $d = $c->desired('chat', 'v1');
is($d->{replicas}, 1, "desired 1 ($d->{reason})");
isnt($d->{reason}, 'idle: scale to zero', 'not idle');
ok(echo_ok('still there'), 'the connection still carries data');

is($c->count('plain', 'v1'), 0, 'meanwhile the plain function, idle, went to zero');
like($c->log, qr{scaling plain/v1 from 1 to 0: idle}, 'by the scaler');
unlike($c->log, qr{scaling chat/v1 from 1 to 0}, 'chat was never scaled down');

# --- closed: zero after idle -------------------------------------------------------

close $ws;
my $closed = time;
$t->wait_until(sub { $c->count('chat', 'v1') == 0 && !%{ $c->endpoints('chat', 'v1') } },
               $IDLE_S + 10, 'once closed, it goes to zero');
my $zero_s = time - $closed;
ok($zero_s >= $IDLE_S - 0.1, sprintf('after idle: %.1f s after the close', $zero_s));
is($c->desired('chat', 'v1')->{reason}, 'idle: scale to zero', 'reason: idle');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

#!/usr/bin/perl
# A request refused by its only replica waits again ("replay") without
# holding up the requests behind it, and takes the replica once it answers.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use IO::Socket::INET;

my $t = FaasTest->new;
$t->start_redis;
my $port = $t->start_refusing_port;

# one worker, so that both requests share one queue
$t->start_nginx(<<'EOF', workers => 1);
faas_zone  faas 1m;
faas_redis %%REDIS%%;

faas_function hol {
    revision v1 "exec=/bin/true";
    queue size=10 timeout=8s;
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
        proxy_set_header Connection "";
    }

    location = /faas/status { faas_status; }
}
EOF

sub rev { $t->get('/faas/status')->{json}{functions}[0]{revisions}[0] }

$t->publish_endpoint('hol', 'v1', 'r1', "127.0.0.1:$port");
ok($t->wait_until(sub { rev()->{ready} == 1 }, 5, 'ready'), 'a replica is published');

# A: refused by the only replica (nothing listens there yet)
my $a = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->nginx_port) or die;
print {$a} "GET /function/hol/a HTTP/1.0\r\n\r\n";
ok($t->wait_until(sub { rev()->{replays} == 1 && rev()->{parked} == 1 }, 5, 'replayed'),
   'a request refused by the only replica waits in the queue again');

# the replica comes up at its published address
my $fn = $t->start_fn(function => 'hol', revision => 'v1', port => $port);

my $b = $t->get('/function/hol/b');
is($b->{status}, 200, 'a request queued behind it is answered by the replica');
is($b->{json}{path}, '/b', 'by the replica itself');

my $answer = <$a> // '';
like($answer, qr{^HTTP/1\.1 200}, 'the replayed request is answered 200 too, not 504');

my $st = rev();
is($st->{timeouts}, 0, 'nothing timed out');
is($st->{parked}, 0, 'nothing is left waiting');

$t->log_clean_ok(allow => [ qr/connect\(\) failed \(111: Connection refused\)/ ]);

done_testing;

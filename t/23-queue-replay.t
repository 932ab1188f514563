#!/usr/bin/perl
# A request refused by its only replica waits again ("replay") without
# holding up the requests behind it, and takes the replica once it answers.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;

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

%%FRONT%%
EOF

$t->publish_endpoint('hol', 'v1', 'r1', "127.0.0.1:$port");
ok($t->wait_until(sub { $t->revision_status('hol')->{ready} == 1 }, 5, 'ready'), 'a replica is published');

# A: refused by the only replica (nothing listens there yet)
my $a = $t->send_request('GET', '/function/hol/a');
ok($t->wait_until(sub {
       my $st = $t->revision_status('hol');
       $st->{replays} == 1 && $st->{parked} == 1
   }, 5, 'replayed'),
   'a request refused by the only replica waits in the queue again');

# the replica comes up at its published address
my $fn = $t->start_fn(function => 'hol', revision => 'v1', port => $port);

my $b = $t->get('/function/hol/b');
is($b->{status}, 200, 'a request queued behind it is answered by the replica');
is($b->{json}{path}, '/b', 'by the replica itself');

is($t->read_response($a)->{status}, 200, 'the replayed request is answered 200 too, not 504');

my $st = $t->revision_status('hol');
is($st->{timeouts}, 0, 'nothing timed out');
is($st->{parked}, 0, 'nothing is left waiting');

$t->log_clean_ok(allow => [ qr/connect\(\) failed \(111: Connection refused\)/ ]);

done_testing;

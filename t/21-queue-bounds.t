#!/usr/bin/perl
# The queue's bounds and admission: 503 with Retry-After past "size=", an
# aborted client frees its place and sends nothing upstream, "concurrency"
# is never exceeded (a new replica takes as many parked requests as it has
# slots), a refused replica is replaced while requests wait, and every
# in-flight count returns to zero however requests end.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;
$t->start_redis;

$t->start_nginx(<<'EOF', access_log_format => '$status $faas_function $faas_status');
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms;

faas_function small {
    revision v1 "exec=/bin/true";
    queue size=3 timeout=20s;
}

faas_function one {
    revision v1 "exec=/bin/true";
    queue size=1 timeout=20s;
}

faas_function single {
    revision v1 "exec=/bin/true";
    concurrency 1;
    queue size=100 timeout=30s;
}

faas_function four {
    revision v1 "exec=/bin/true";
    concurrency 4;
    queue size=100 timeout=30s;
}

faas_function replay {
    revision v1 "exec=/bin/true";
    queue size=100 timeout=10s;
}

faas_function flaky {
    revision v1 "exec=/bin/true";
    queue size=100 timeout=10s;
}

proxy_read_timeout 10s;

%%FRONT%%
EOF


sub parked { ($t->revision_status($_[0]) // {})->{parked} // -1 }




sub fn_stats {
    my ($fn, $reset) = @_;
    my $res = HTTP::Tiny->new->get("http://$fn->{addr}/stats" . ($reset ? '?reset=1' : ''));
    return decode_json($res->{content});
}

# --- past "size=" the answer is 503 -----------------------------------------

{
    my @waiting = map { $t->send_request('GET', '/function/small/x') } 1 .. 3;
    ok($t->wait_until(sub { parked('small') == 3 }, 5, 'three parked'),
       'three requests fill a queue of size 3');

    my $res = $t->get('/function/small/x');
    is($res->{status}, 503, 'the fourth gets 503');
    is($res->{headers}{'retry-after'}, '1', 'with Retry-After');
    is_deeply($res->{json}, { error => 'queue full', function => 'small', revision => 'v1' },
              'and a JSON body saying the queue is full');
    is($t->revision_status('small')->{rejected}, 1, 'the rejection is counted');

    my $fn = $t->start_fn(function => 'small', revision => 'v1');
    $t->publish_endpoint('small', 'v1', 'r1', $fn->{addr});
    is_deeply([ map { $t->read_response($_)->{status} } @waiting ], [ 200, 200, 200 ],
              'the three parked requests are answered once a replica is up');
}

# --- an aborted client frees its place --------------------------------------

{
    my $fn = $t->start_fn(function => 'one', revision => 'v1');

    my $s = $t->send_request('GET', '/function/one/gone');
    ok($t->wait_until(sub { parked('one') == 1 }, 5, 'parked'),
       'a request parks in a queue of size 1');
    close $s;
    ok($t->wait_until(sub { parked('one') == 0 }, 5, 'place freed'),
       'its client goes away: the place is freed');
    is($t->revision_status('one')->{aborted}, 1, 'the abort is counted');

    my $s2 = $t->send_request('GET', '/function/one/kept');
    ok($t->wait_until(sub { parked('one') == 1 }, 5, 'parked again'),
       'the freed place takes another request');

    $t->publish_endpoint('one', 'v1', 'r1', $fn->{addr});
    is($t->read_response($s2)->{status}, 200, 'which is answered once a replica is up');
    is(fn_stats($fn)->{requests}, 1,
       'the aborted request was never sent to the replica');

    ok(($t->access_log =~ /^499 one ABORTED$/m), 'the aborted request is logged ABORTED');
}

# --- "concurrency 1" with two replicas: never two requests at once ----------

{
    my @fns = map { $t->start_fn(function => 'single', revision => 'v1') } 1 .. 2;
    $t->publish_endpoint('single', 'v1', "r$_", $fns[$_ - 1]{addr}) for 1 .. 2;
    ok($t->wait_until(sub { $t->revision_status('single')->{ready} == 2 }, 5, 'ready'),
       'two replicas of a function with concurrency 1');

    my $res = $t->get_many('/function/single/x?sleep_ms=50', 30, 30);
    is(scalar(grep { $_->{status} == 200 } @$res), 30, '30 concurrent requests all answered 200');

    # the function reports how many requests it holds after its sleep: a
    # second one overlapping the sleep would show (its own counters also
    # count the few microseconds between a response and its bookkeeping)
    my @seen = map { (eval { decode_json($_->{body}) } // {})->{in_flight} // -1 } @$res;
    is_deeply([ grep { $_ != 1 } @seen ], [],
              'no replica ever held two requests at once');

    my %by_port;
    $by_port{ (eval { decode_json($_->{body}) } // {})->{port} // 0 }++ for @$res;
    for my $i (0 .. 1) {
        cmp_ok($by_port{ $fns[$i]{port} } // 0, '>=', 5, "replica " . ($i + 1) . " took its share");
    }
}

# --- a new replica with "concurrency 4" receives 4, not the whole queue -----

{
    my @waiting = map { $t->send_request('GET', '/function/four/x?sleep_ms=800') } 1 .. 10;
    ok($t->wait_until(sub { parked('four') == 10 }, 5, 'ten parked'), 'ten requests parked');

    my $fn = $t->start_fn(function => 'four', revision => 'v1');
    $t->publish_endpoint('four', 'v1', 'r1', $fn->{addr});

    ok($t->wait_until(sub { $t->revision_status('four')->{in_flight} == 4 }, 5, 'four in flight'),
       'the new replica takes four');
    is(parked('four'), 6, 'the other six keep waiting');

    my @answers = map { $t->read_response($_) } @waiting;
    is_deeply([ map { $_->{status} } @answers ], [ (200) x 10 ], 'all ten are answered');
    is_deeply([ grep { $_->{json}{in_flight} > 4 } @answers ], [],
              'the replica never held more than four');
}

# --- a replica that refuses connections while requests wait -----------------

{
    my $refusing = $t->start_refusing_port;
    my @waiting = map { $t->send_request('GET', '/function/flaky/x') } 1 .. 20;
    ok($t->wait_until(sub { parked('flaky') == 20 }, 5, 'twenty parked'),
       'twenty requests parked');

    # both published in one transaction, so that the released requests
    # spread over both (a lone refusing replica is the replay test's case)
    my $fn = $t->start_fn(function => 'flaky', revision => 'v1');
    $t->_multi([ 'HSET', $t->endpoints_key('flaky', 'v1'), 'dead', "127.0.0.1:$refusing",
                 'alive', $fn->{addr} ],
               [ 'PUBLISH', $t->endpoints_channel, "up flaky v1 dead 127.0.0.1:$refusing" ],
               [ 'PUBLISH', $t->endpoints_channel, "up flaky v1 alive $fn->{addr}" ]);

    is_deeply([ map { $t->read_response($_)->{status} } @waiting ], [ (200) x 20 ],
              'every parked request is answered 200 though one replica refuses');
    cmp_ok($t->revision_status('flaky')->{failures}, '>=', 1, 'the refusals are counted');
}

# --- refused by every replica: the request waits again, nothing is lost -----

{
    # the only replica refuses: requests that took a slot on it, warm, and
    # requests released onto it from the queue all go back to the queue
    my $refusing = $t->start_refusing_port;
    $t->publish_endpoint('replay', 'v1', 'dead', "127.0.0.1:$refusing");

    my @waiting = map { $t->send_request('POST', '/function/replay/x', 'hello') } 1 .. 10;

    ok($t->wait_until(sub { parked('replay') == 10 }, 5, 'replayed requests parked'),
       'requests refused by the only replica wait in the queue again, POSTs too');
    # those that took a slot on it were refused and replayed; the others
    # queued behind them and were never sent to it
    cmp_ok($t->revision_status('replay')->{replays}, '>=', 1, 'replays are counted');

    my $fn = $t->start_fn(function => 'replay', revision => 'v1');
    $t->unpublish_endpoint('replay', 'v1', 'dead');
    $t->publish_endpoint('replay', 'v1', 'alive', $fn->{addr});

    my @answers = map { $t->read_response($_) } @waiting;

    is_deeply([ map { $_->{status} } @answers ], [ (200) x 10 ],
              'all are answered 200 by the replica that replaced it');
    is_deeply([ map { $_->{json}{body_len} } @answers ], [ (5) x 10 ],
              'with their bodies');
    is(fn_stats($fn)->{requests}, 10, 'each reached a replica exactly once');
}

# --- in-flight counts return to zero however requests end ------------------

{
    my $fn = $t->start_fn(function => 'flaky', revision => 'v1');
    $t->publish_endpoint('flaky', 'v1', 'slow', $fn->{addr});

    # clients that leave while their request is proxied
    my @gone = map { $t->send_request('GET', '/function/flaky/x?sleep_ms=3000') } 1 .. 5;
    ok($t->wait_until(sub { $t->revision_status('flaky')->{in_flight} >= 5 }, 5, 'in flight'),
       'five slow requests in flight');
    close $_ for @gone;

    # an upstream that fails after the request was sent
    $t->get('/function/flaky/x?status=500');
    # requests that end normally, in parallel
    $t->get_many('/function/flaky/x', 50, 10);

    ok($t->wait_until(sub {
           my $st = $t->revision_status('flaky');
           return 0 if $st->{in_flight} != 0 || $st->{parked} != 0;
           return !grep { $_->{in_flight} != 0 } @{ $st->{replicas} };
       }, 10, 'counts back to zero'),
       'the in-flight counts of the revision and of every replica return to zero');
}

$t->log_clean_ok(allow => [ qr/connect\(\) failed \(111: Connection refused\)/ ]);

done_testing;

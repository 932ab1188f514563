#!/usr/bin/perl
# faas_status: the JSON document and the Prometheus text after a known
# workload (requests passed, rejected, timed out, aborted and queued),
# replicas draining after an unpublish, and the $faas_* variables in the
# access log.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

$t->start_redis;

my $a  = $t->start_fn(function => 'st', revision => 'v1');
my $b  = $t->start_fn(function => 'st', revision => 'v1');
my $c  = $t->start_fn(function => 'st', revision => 'v2');
my $d  = $t->start_fn(function => 'dr', revision => 'v1');
my $e  = $t->start_fn(function => 'wq', revision => 'v1');

my $PROXY = 'proxy_pass http://faas; proxy_http_version 1.1; proxy_set_header Connection "";';

$t->start_nginx(<<"EOF", access_log_format => 'faas uri=$request_uri status=$status fn=$faas_function rev=$faas_revision replica=$faas_replica st=$faas_status cold=$faas_cold qt=$faas_queue_time');
    faas_zone  faas 1m;
    faas_redis %%REDIS%%;

    faas_function st {
        revision v1 "exec=/bin/true" weight=100;
        revision v2 "exec=/bin/true" weight=0;
        concurrency 8;
        queue size=30 timeout=4s;
    }
    faas_function dr   { revision v1 "exec=/bin/true"; queue size=0; }
    faas_function idle { revision v1 "exec=/bin/true"; queue size=0; }
    faas_function wq   { revision v1 "exec=/bin/true"; queue size=1 timeout=2s; }

    upstream faas {
        faas_balancer;
        keepalive 16;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /function/ {
            faas_pass;
            faas_revision_header on;
            $PROXY
        }
        location = /faas/status { faas_status; }
    }
EOF

# --- helpers ---------------------------------------------------------------

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return '';
    local $/;
    return scalar(<$fh>) // '';
}

sub status_json {
    my $r = $t->get('/faas/status');
    return $r->{json} || {};
}

sub function_of {
    my ($st, $name) = @_;
    my ($f) = grep { $_->{name} eq $name } @{ $st->{functions} || [] };
    return $f || {};
}

sub revision_of {
    my ($st, $fn, $rev) = @_;
    my ($r) = grep { $_->{name} eq $rev } @{ function_of($st, $fn)->{revisions} || [] };
    return $r || {};
}

sub replica_of {
    my ($rev, $id) = @_;
    my ($r) = grep { $_->{id} eq $id } @{ $rev->{replicas} || [] };
    return $r;
}



# --- JSON after a known workload -------------------------------------------

$t->publish_endpoint('st', 'v1', 'a', $a->{addr});
$t->publish_endpoint('st', 'v1', 'b', $b->{addr});
$t->publish_endpoint('st', 'v2', 'c', $c->{addr});
$t->wait_until(sub {
    my $st = status_json();
    revision_of($st, 'st', 'v1')->{ready} == 2 && revision_of($st, 'st', 'v2')->{ready} == 1;
}, 5, 'st replicas ready');

my @REVISION_FIELDS = qw(name weight ready in_flight parked requests cold_starts rejected timeouts
                         aborted replays failures queue_waits queue_wait_ms last_request_ms replicas);
my @COUNTERS = qw(in_flight parked cold_starts rejected timeouts aborted replays failures
                  queue_waits queue_wait_ms);

# the counters of a revision that are not 0
sub nonzero {
    my ($rev) = @_;
    return { map { ($rev->{$_} // 0) != 0 ? ($_ => $rev->{$_}) : () } @COUNTERS };
}

{
    my $st = status_json();
    is_deeply([ sort keys %$st ], [qw(functions metrics_dropped redis)],
              'status: the top level holds redis, metrics_dropped and functions');
    is($st->{redis}, 'connected', 'status: redis "connected"');
    is($st->{metrics_dropped}, 0, 'status: no metrics dropped while Redis is up');
    is_deeply([ sort map { $_->{name} } @{ $st->{functions} || [] } ], [qw(dr idle st wq)],
              'status: every configured function');
    is_deeply([ sort keys %{ function_of($st, 'st') } ], [qw(concurrency name queue revisions)],
              'status: a function holds name, concurrency, queue and revisions');
    is_deeply([ map { $_->{name} } @{ function_of($st, 'st')->{revisions} || [] } ], [qw(v1 v2)],
              'status: the revisions of st');
    is_deeply([ sort keys %{ revision_of($st, 'st', 'v1') } ], [ sort @REVISION_FIELDS ],
              'status: a revision holds every documented field');
    my @revs = map { @{ $_->{revisions} } } @{ $st->{functions} };
    is_deeply([ map { [ $_->{requests}, $_->{last_request_ms} ] } @revs ], [ map { [ 0, 0 ] } @revs ],
              'status: no request counted, and no last request time, before any was made');
    is_deeply([ map { nonzero($_) } @revs ], [ map { {} } @revs ], 'status: every other counter at 0');

    my $r = $t->get('/faas/status');
    like($r->{headers}{'content-type'}, qr{^application/json\b}, 'status: Content-Type application/json');

    my $t0 = time;
    my $res = $t->get_many('/function/st/x', 20, 5);
    is(scalar(grep { $_->{status} == 200 } @$res), 20, '20 requests to st answered 200');
    $res = $t->get_many('/function/st/x', 5, 5, { 'X-Faas-Revision' => 'v2' });
    is(scalar(grep { $_->{status} == 200 } @$res), 5, '5 pinned to v2 answered 200');
    $res = $t->get_many('/function/idle/', 3, 3);
    is(scalar(grep { $_->{status} == 503 } @$res), 3, '3 requests to idle (queue size=0) answered 503');

    $st = status_json();
    my $fn = function_of($st, 'st');
    is($fn->{concurrency}, 8, 'status: function concurrency');
    is_deeply($fn->{queue}, { size => 30, timeout_ms => 4000 }, 'status: function queue');

    my $v1 = revision_of($st, 'st', 'v1');
    is($v1->{weight}, 100, 'status: v1 weight 100');
    is($v1->{ready}, 2, 'status: v1 has 2 ready replicas');
    is($v1->{requests}, 20, 'status: v1 counted 20 requests');
    is_deeply(nonzero($v1), {}, 'status: v1 has nothing in flight or parked, and counted no rejection, '
              . 'timeout, abort, replay, failure or queue wait');
    cmp_ok(abs($v1->{last_request_ms} / 1000 - $t0), '<', 10, 'status: v1 last request time is recent');
    is_deeply([ sort map { $_->{id} } @{ $v1->{replicas} } ], [qw(a b)], 'status: v1 lists replicas a and b');
    is_deeply([ sort keys %{ $v1->{replicas}[0] || {} } ], [qw(address failures id in_flight requests state)],
              'status: a replica holds id, address, state, in_flight, requests and failures');
    my $ra = replica_of($v1, 'a') || {};
    my $rb = replica_of($v1, 'b') || {};
    is($ra->{address}, $a->{addr}, 'status: replica a address');
    is($rb->{address}, $b->{addr}, 'status: replica b address');
    is($ra->{state}, 'ready', 'status: replica a state "ready"');
    is($rb->{state}, 'ready', 'status: replica b state "ready"');
    is(($ra->{requests} // 0) + ($rb->{requests} // 0), 20, 'status: the replicas requests add up to 20');
    is(($ra->{in_flight} // -1) + ($rb->{in_flight} // -1), 0, 'status: replicas have nothing in flight');
    is($ra->{failures} + $rb->{failures}, 0, 'status: replicas counted no failure');

    my $v2 = revision_of($st, 'st', 'v2');
    is($v2->{weight}, 0, 'status: v2 weight 0');
    is($v2->{requests}, 5, 'status: v2 counted the 5 pinned requests');
    is($v2->{ready}, 1, 'status: v2 has 1 ready replica');
    is((replica_of($v2, 'c') || {})->{requests}, 5, 'status: replica c counted 5 requests');

    my $idle = revision_of($st, 'idle', 'v1');
    is($idle->{ready}, 0, 'status: idle has no ready replica');
    is($idle->{requests}, 3, 'status: idle counted its 3 requests');
    is_deeply(nonzero($idle), { rejected => 3 }, 'status: idle counted 3 rejected (no queue), nothing else');
    is_deeply($idle->{replicas}, [], 'status: idle lists no replica');
}

# --- the queue's counters ----------------------------------------------------

# wq: "queue size=1 timeout=2s", no replica until the end
{
    my $wq = sub { revision_of(status_json(), 'wq', 'v1') };

    # a request that waits past the timeout
    my $t0 = time;
    my $r = $t->get('/function/wq/?mark=timeout');
    my $took = time - $t0;
    is($r->{status}, 504, 'wq: a request that waits past the queue timeout gets 504');
    cmp_ok($took, '>=', 1.9, sprintf('... after the 2 s timeout (%.2f s)', $took));
    is_deeply(nonzero($wq->()), { cold_starts => 1, timeouts => 1 },
              'status: the timeout is counted, and the cold start its wait signalled');

    # a client that leaves while its request waits
    my $s = $t->send_request('GET', '/function/wq/?mark=aborted');
    ok($t->wait_until(sub { $wq->()->{parked} == 1 }, 5, 'parked'), 'status: a waiting request is parked 1');
    close $s;
    ok($t->wait_until(sub { $wq->()->{parked} == 0 }, 5, 'abort seen'), '... until its client leaves');
    is_deeply(nonzero($wq->()), { cold_starts => 1, timeouts => 1, aborted => 1 },
              'status: the abort is counted; still one cold start for the revision');

    # one waits, the next finds the queue full, a replica comes up
    my $waiting = $t->send_request('GET', '/function/wq/?mark=queued');
    ok($t->wait_until(sub { $wq->()->{parked} == 1 }, 5, 'parked again'), 'another request waits');
    $r = $t->get('/function/wq/?mark=full');
    is($r->{status}, 503, 'with the queue full (size=1) the next gets 503');
    is_deeply($r->{json}, { error => 'queue full', function => 'wq', revision => 'v1' },
              '... "queue full"') or diag $r->{content};
    sleep 0.2;
    $t->publish_endpoint('wq', 'v1', 'e', $e->{addr});
    is($t->read_response($waiting)->{status}, 200, 'the waiting request is answered 200 once a replica is published');

    my $rev = $wq->();
    is($rev->{requests}, 4, 'status: wq counted its 4 requests');
    my $wait_ms = $rev->{queue_wait_ms};
    cmp_ok($wait_ms, '>=', 190, "status: the wait of the queued request is counted ($wait_ms ms, >= 200 ms)");
    is_deeply(nonzero($rev), { cold_starts => 1, timeouts => 1, aborted => 1, rejected => 1,
                               queue_waits => 1, queue_wait_ms => $wait_ms },
              'status: wq counted 1 cold start, timeout, abort, rejection and queue wait');
    is((replica_of($rev, 'e') || {})->{requests}, 1, 'status: only the queued request reached the replica');
}

# --- Prometheus ------------------------------------------------------------

{
    my $json = status_json();
    my $r = $t->get('/faas/status?format=prometheus');
    is($r->{status}, 200, 'prometheus: 200');
    like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'prometheus: text format 0.0.4');
    my $text = $r->{content};

    # family => [ type, field of the JSON revision or replica ]
    my %revision_metric = (
        faas_revision_requests_total           => [ counter => 'requests' ],
        faas_revision_in_flight                => [ gauge   => 'in_flight' ],
        faas_revision_parked                   => [ gauge   => 'parked' ],
        faas_revision_ready_replicas           => [ gauge   => 'ready' ],
        faas_revision_cold_starts_total        => [ counter => 'cold_starts' ],
        faas_revision_rejected_total           => [ counter => 'rejected' ],
        faas_revision_timeouts_total           => [ counter => 'timeouts' ],
        faas_revision_aborted_total            => [ counter => 'aborted' ],
        faas_revision_replays_total            => [ counter => 'replays' ],
        faas_revision_failures_total           => [ counter => 'failures' ],
        faas_revision_queue_waits_total        => [ counter => 'queue_waits' ],
        faas_revision_queue_wait_seconds_total => [ counter => 'queue_wait_ms' ],
    );
    my %replica_metric = (
        faas_replica_in_flight      => [ gauge   => 'in_flight' ],
        faas_replica_requests_total => [ counter => 'requests' ],
        faas_replica_failures_total => [ counter => 'failures' ],
    );
    my %type = map { $_ => $revision_metric{$_}[0] } keys %revision_metric;
    $type{$_} = $replica_metric{$_}[0] for keys %replica_metric;

    my (%help, %typed, %samples, @order_errors, @bad_lines);
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP (\S+) \S/) {
            push @order_errors, "HELP of $1 after its samples" if $samples{$1};
            $help{$1}++;
        } elsif ($line =~ /^# TYPE (\S+) (\S+)$/) {
            push @order_errors, "TYPE of $1 before its HELP" unless $help{$1};
            push @order_errors, "TYPE of $1 after its samples" if $samples{$1};
            $typed{$1} = $2;
        } elsif ($line =~ /^([a-z_]+)\{(.*)\} (\d+(?:\.\d+)?)$/) {
            my ($name, $labels, $value) = ($1, $2, $3);
            push @order_errors, "sample of $name before HELP/TYPE" unless $help{$name} && $typed{$name};
            # seconds with three decimals, everything else an integer
            push @bad_lines, $line
                if ($name =~ /_seconds_total$/) != ($value =~ /^\d+\.\d{3}$/);
            my %l;
            while ($labels =~ /\G([a-z_]+)="((?:[^"\\]|\\.)*)",?/gc) { $l{$1} = $2 }
            push @bad_lines, $line if (pos($labels) // 0) != length $labels;
            $samples{$name}{ join ',', map { "$_=$l{$_}" } sort keys %l } = $value;
        } else {
            push @bad_lines, $line;
        }
    }
    is_deeply(\@bad_lines, [], 'prometheus: every line is HELP, TYPE or a sample with labels, '
              . 'seconds with 3 decimals, other values integers');
    is_deeply(\@order_errors, [], 'prometheus: HELP then TYPE come before the samples of each family');
    is_deeply(\%typed, \%type, 'prometheus: the fifteen families with their types');
    is(scalar(grep { $help{$_} != 1 } keys %help), 0, 'prometheus: one HELP per family');

    # every JSON counter appears with the same value
    my %want;
    for my $f (@{ $json->{functions} }) {
        for my $rev (@{ $f->{revisions} }) {
            my $k = "function=$f->{name},revision=$rev->{name}";
            for my $m (keys %revision_metric) {
                my $v = $rev->{ $revision_metric{$m}[1] };
                $v = sprintf('%d.%03d', int($v / 1000), $v % 1000) if $m =~ /_seconds_total$/;
                $want{$m}{$k} = $v;
            }
            for my $rep (@{ $rev->{replicas} }) {
                my $rk = "address=$rep->{address},function=$f->{name},replica=$rep->{id},revision=$rev->{name}";
                $want{$_}{$rk} = $rep->{ $replica_metric{$_}[1] } for keys %replica_metric;
            }
        }
    }
    is_deeply(\%samples, \%want, 'prometheus: labels and values match the JSON status, sample for sample');
    is($samples{faas_revision_requests_total}{'function=st,revision=v1'}, 20,
       'prometheus: faas_revision_requests_total{function="st",revision="v1"} 20');
    is($samples{faas_replica_requests_total}{"address=$c->{addr},function=st,replica=c,revision=v2"}, 5,
       'prometheus: faas_replica_requests_total of replica c is 5');
    is($samples{faas_revision_rejected_total}{'function=wq,revision=v1'}, 1,
       'prometheus: faas_revision_rejected_total{function="wq",revision="v1"} 1');
    my $wait_ms = revision_of($json, 'wq', 'v1')->{queue_wait_ms};
    cmp_ok($samples{faas_revision_queue_wait_seconds_total}{'function=wq,revision=v1'}, '==', $wait_ms / 1000,
           "prometheus: faas_revision_queue_wait_seconds_total of wq is its queue_wait_ms in seconds ($wait_ms ms)");
}

# --- draining --------------------------------------------------------------

$t->publish_endpoint('dr', 'v1', 'd', $d->{addr});
$t->wait_until(sub { revision_of(status_json(), 'dr', 'v1')->{ready} == 1 }, 5, 'dr replica ready');

{
    my $held = $t->send_request('GET', '/function/dr/?sleep_ms=1500');
    $t->wait_until(sub { (replica_of(revision_of(status_json(), 'dr', 'v1'), 'd') || {})->{in_flight} == 1 },
                   5, 'slow request in flight on d');
    $t->unpublish_endpoint('dr', 'v1', 'd');
    $t->wait_until(sub { revision_of(status_json(), 'dr', 'v1')->{ready} == 0 }, 5, 'd unpublished');

    my $rev = revision_of(status_json(), 'dr', 'v1');
    my $rd = replica_of($rev, 'd') || {};
    is($rd->{state}, 'draining', 'unpublished with a request in flight: state "draining"');
    is($rd->{in_flight}, 1, 'the draining replica shows in_flight 1');
    is($rd->{address}, $d->{addr}, 'the draining replica keeps its address');
    is($rev->{in_flight}, 1, 'the revision still counts the request in flight');

    my $r = $t->get('/function/dr/');
    is($r->{status}, 503, 'a draining replica takes no new request: 503 (queue size=0)');
    is($r->{json}{error}, 'no ready replica', '... "no ready replica"');

    is($t->read_response($held)->{status}, 200, 'the request in flight on the draining replica completes with 200');
    ok($t->wait_until(sub { !replica_of(revision_of(status_json(), 'dr', 'v1'), 'd') }, 5, 'd gone'),
       'the drained replica disappears from the status once its request ended');
    $rev = revision_of(status_json(), 'dr', 'v1');
    is($rev->{in_flight}, 0, 'the revision has nothing in flight after the drain');
    is($rev->{requests}, 2, 'the revision counted both requests');
}

# --- $faas_* variables in the access log -----------------------------------

{
    # the queue section above made the requests marked timeout, aborted,
    # queued and full
    is($t->get('/function/st/x?mark=passed')->{status}, 200, 'PASSED request: 200');
    is($t->get('/function/nope/?mark=notfound')->{status}, 404, 'NOT_FOUND request: 404');
    is($t->get('/function/Bad/?mark=badname')->{status}, 400, 'BAD_NAME request: 400');
    is($t->get('/function/idle/?mark=rejected')->{status}, 503, 'REJECTED request (no queue): 503');
    is($t->get('/faas/status?mark=status')->{status}, 200, 'status request: 200');

    my $log = '';
    my %line;
    $t->wait_until(sub {
        $log = slurp($t->prefix . '/access.log');
        %line = map { /mark=(\w+)/ ? ($1 => $_) : () } split /\n/, $log;
        keys(%line) == 9;
    }, 5, 'nine marked lines in the access log');

    my %replicas = map { $_ => 1 } $a->{addr}, $b->{addr};
    like($line{passed} // '', qr/ status=200 fn=st rev=v1 replica=(\S+) st=PASSED cold=0 qt=0$/,
         'access log, PASSED: fn=st rev=v1 replica=ADDR st=PASSED cold=0 qt=0');
    my ($addr) = ($line{passed} // '') =~ /replica=(\S+)/;
    ok($addr && $replicas{$addr}, "access log, PASSED: \$faas_replica is a replica's address ($addr)");
    like($line{notfound} // '', qr/ status=404 fn=nope rev=- replica=- st=NOT_FOUND cold=- qt=-$/,
         'access log, NOT_FOUND: fn=nope rev=- replica=- st=NOT_FOUND cold=- qt=-');
    like($line{badname} // '', qr/ status=400 fn=Bad rev=- replica=- st=BAD_NAME cold=- qt=-$/,
         'access log, BAD_NAME: fn=Bad rev=- replica=- st=BAD_NAME cold=- qt=-');
    like($line{rejected} // '', qr/ status=503 fn=idle rev=v1 replica=- st=REJECTED cold=0 qt=0$/,
         'access log, REJECTED with no queue: fn=idle rev=v1 replica=- st=REJECTED cold=0 qt=0');
    like($line{full} // '', qr/ status=503 fn=wq rev=v1 replica=- st=REJECTED cold=0 qt=0$/,
         'access log, REJECTED with the queue full: st=REJECTED cold=0 qt=0');

    my ($qt) = ($line{timeout} // '') =~ / status=504 fn=wq rev=v1 replica=- st=TIMEOUT cold=1 qt=(\d+)$/;
    ok(defined $qt && $qt >= 1900 && $qt < 4000,
       'access log, TIMEOUT: status=504 st=TIMEOUT cold=1 qt=about 2000 (the timeout) ms')
        or diag $line{timeout};
    ($qt) = ($line{aborted} // '') =~ / status=499 fn=wq rev=v1 replica=- st=ABORTED cold=1 qt=(\d+)$/;
    ok(defined $qt, 'access log, ABORTED: status=499 st=ABORTED cold=1 qt=MS') or diag $line{aborted};
    ($qt) = ($line{queued} // '') =~ / status=200 fn=wq rev=v1 replica=\Q$e->{addr}\E st=QUEUED cold=1 qt=(\d+)$/;
    ok(defined $qt, 'access log, QUEUED: status=200 replica=ADDR st=QUEUED cold=1 qt=MS') or diag $line{queued};
    is($qt, revision_of(status_json(), 'wq', 'v1')->{queue_wait_ms},
       'access log, QUEUED: $faas_queue_time is the wait the status page counted');
    like($line{status} // '', qr/ status=200 fn=- rev=- replica=- st=- cold=- qt=-$/,
         'access log, a request not routed by faas: every $faas_* is empty');
}

$t->log_clean_ok(allow => []);

done_testing;

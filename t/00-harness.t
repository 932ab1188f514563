#!/usr/bin/perl
# Tests of the test harness itself (t/lib/FaasTest.pm), on stock nginx
# (module => 0): it must work before the module is even built.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;

# A stand-in function (Perl, HTTP/1.0) so that start_fn/stop_fn/kill_fn are
# tested even when build/faas-testfn is not built yet.
my $FAKE_FN = <<'PERL';
use strict; use warnings; use IO::Socket::INET;
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$ENV{PORT}", Listen => 128,
                              ReuseAddr => 1) or die "listen: $!";
$| = 1;
print "fake fn listening on 127.0.0.1:$ENV{PORT}\n";
while (my $c = $l->accept) {
    while (my $line = <$c>) { last if $line =~ /^\r?\n$/ }
    my $body = "fn=$ENV{FAAS_FUNCTION} rev=$ENV{FAAS_REVISION} x=" . ($ENV{EXTRA} // '');
    print $c "HTTP/1.0 200 OK\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    close $c;
}
PERL

my $t = FaasTest->new;
ok(-d $t->prefix, 'prefix directory exists');
ok(-f $t->repo . '/t/lib/FaasTest.pm', 'repository root found');

# --- Redis -----------------------------------------------------------------

my $redis_port = $t->start_redis;
like($redis_port, qr/^\d+$/, "redis started on port $redis_port");
is($t->redis_port, $redis_port, 'redis_port');
is($t->redis('PING'), 'PONG', 'PING');
is($t->redis('SET', 'k', "v a\r\nl"), 'OK', 'SET');
is($t->redis('GET', 'k'), "v a\r\nl", 'GET returns the bulk string');
is($t->redis('GET', 'missing'), undef, 'nil is undef');
is($t->redis('INCR', 'n'), 1, 'integer reply');
is_deeply($t->redis('MGET', 'k', 'missing'), [ "v a\r\nl", undef ], 'array reply');
is_deeply($t->redis('LRANGE', 'nolist', 0, -1), [], 'empty array');
eval { $t->redis('NOSUCHCOMMAND') };
like($@, qr/^ERR unknown command/, 'an error reply dies with its message');
is($t->redis('PING'), 'PONG', 'connection still usable after an error reply');

my $sub = $t->redis_subscribe($t->endpoints_channel);
is($t->publish_endpoint('hello', 'r1', 'id1', '127.0.0.1:9'), 1, 'publish_endpoint reached 1 subscriber');
is($sub->next_message(2), 'up hello r1 id1 127.0.0.1:9', 'subscriber got "up"');
is($sub->channel, 'faas:ch:endpoints', 'on the endpoints channel');
is_deeply($t->redis('HGETALL', 'faas:endpoints:hello:r1'), [ 'id1', '127.0.0.1:9' ], 'endpoint hash set');
$t->unpublish_endpoint('hello', 'r1', 'id1');
is($sub->next_message(2), 'down hello r1 id1', 'subscriber got "down"');
is($t->redis('EXISTS', 'faas:endpoints:hello:r1'), 0, 'endpoint hash emptied');
is($sub->next_message(0.2), undef, 'next_message times out with undef');
$sub->close;

$t->redis('SET', 'before', 'restart');
$t->restart_redis;
is($t->redis_port, $redis_port, 'restart_redis keeps the port');
is($t->redis('GET', 'before'), undef, 'redis() reconnected to the new server (no persistence)');

# A second harness: password passed through, its own prefix and ports.
{
    my $t2 = FaasTest->new;
    my $port2 = $t2->start_redis(password => 'sekret', args => [ '--maxclients', 50 ]);
    isnt($port2, $redis_port, 'second redis on another port');
    is($t2->redis('PING'), 'PONG', 'authenticated with requirepass');
    is_deeply($t2->redis('CONFIG', 'GET', 'maxclients'), [ 'maxclients', 50 ], 'args passed through');
    my $raw = FaasTest::RedisConn->new(port => $port2);
    eval { $raw->command('PING') };
    like($@, qr/NOAUTH/, 'unauthenticated client refused');
    $raw->close;
    my $prefix2 = $t2->prefix;
    undef $t2;
    ok(!-d $prefix2 || $ENV{FAAS_TEST_KEEP}, 'prefix removed when the object goes away');
}

# --- Functions -------------------------------------------------------------

my $fake = $t->start_fn(bin => $^X, args => [ '-e', $FAKE_FN ], function => 'fake',
                        revision => 'r7', env => { EXTRA => 'yes' });
like($fake->{addr}, qr/^127\.0\.0\.1:\d+$/, "fake function at $fake->{addr}");
my $refusing = $t->start_refusing_port;

my $testfn;
$testfn = $t->start_fn(function => 'tfn', revision => 'r2') if $t->have_testfn;

# --- nginx -----------------------------------------------------------------

my $conf = <<"EOF";
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "hi"; }
        location = /json { default_type application/json; return 200 '{"a":[1,2]}'; }
        location = /fake { proxy_pass http://$fake->{addr}; }
        location = /refused { proxy_pass http://127.0.0.1:$refusing; }
        location = /prefix { return 200 "%%PREFIX%%"; }
EOF
$conf .= "        location /testfn/ { proxy_pass http://$testfn->{addr}/; }\n" if $testfn;
$conf .= "    }\n";

my $pid = $t->start_nginx($conf, module => 0);
ok($pid, 'nginx started');
my $res = $t->get('/');
is($res->{status}, 200, 'GET / status');
is($res->{content}, 'hi', 'GET / body');
is_deeply($t->get('/json')->{json}, { a => [ 1, 2 ] }, 'JSON body decoded');
is($t->get('/prefix')->{content}, $t->prefix, '%%PREFIX%% substituted');
is($t->request('POST', '/', 'body', { 'X-Test' => '1' })->{status}, 200, 'request() with a body');

is($t->get('/fake')->{content}, 'fn=fake rev=r7 x=yes', 'proxied to the fake function with its env');
is($t->get('/refused')->{status}, 502, 'refusing port gives 502');

SKIP: {
    skip 'build/faas-testfn not built', 3 unless $testfn;
    is($t->get('/testfn/healthz')->{status}, 200, 'proxied to faas-testfn /healthz');
    my $echo = $t->get('/testfn/echo?x=1')->{json} || {};
    is($echo->{function}, 'tfn', 'faas-testfn got FAAS_FUNCTION');
    is($echo->{revision}, 'r2', 'faas-testfn got FAAS_REVISION');
}

my $many = $t->get_many('/', 200, 50);
is(scalar(@$many), 200, 'get_many returned every response');
is(scalar(grep { $_->{status} == 200 && $_->{body} eq 'hi' } @$many), 200, 'all 200 "hi"');

my $lots = $t->get_many('/fake', 20, 20);
is(scalar(grep { $_->{body} eq 'fn=fake rev=r7 x=yes' } @$lots), 20, 'get_many through a proxy');

SKIP: {
    skip 'reload needs the master process (ASan mode)', 3 if $t->asan;
    my @old = $t->worker_pids;
    is(scalar(@old), 2, 'two workers');
    (my $conf2 = $conf) =~ s/return 200 "hi"/return 200 "hello again"/;
    $t->reload_nginx($conf2);
    is($t->get('/')->{content}, 'hello again', 'new configuration after reload');
    my %old = map { $_ => 1 } @old;
    is(scalar(grep { $old{$_} } $t->worker_pids), 0, 'no old worker left');
}

my ($rc, $out) = $t->nginx_test_config(
    'server { listen 127.0.0.1:%%PORT%%; bogus_directive on; }', module => 0);
isnt($rc, 0, 'nginx -t fails on a broken config');
like($out, qr/unknown directive "bogus_directive"/, 'nginx -t output names the mistake');
($rc, $out) = $t->nginx_test_config($conf, module => 0);
is($rc, 0, 'nginx -t accepts a good config') or diag $out;

ok($t->wait_until(sub { 1 }, 1, 'something true'), 'wait_until returns true');

# --- Functions again, and shutdown -----------------------------------------

$t->kill_fn($fake, 'KILL');
ok(!$t->fn_running($fake), 'kill_fn KILL waits until it is gone');
is($t->get('/fake')->{status}, 502, 'dead function: 502');
if ($testfn) {
    $t->stop_fn($testfn);
    ok(!$t->fn_running($testfn), 'stop_fn');
}

$t->log_clean_ok(allow => [ qr/connect\(\) failed \(111: Connection refused\)/ ]);

my $master = $t->nginx_pid;
$t->stop_nginx;
ok(!kill(0, $master), 'nginx stopped');
is($t->asan_reports, '', 'no ASan report') if $t->asan;

done_testing;

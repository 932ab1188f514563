#!/usr/bin/perl
# The "docker" runtime (controller/runtime_docker.c) driven through
# build/runtime-driver against a private dockerd and a private Podman
# Docker-compatible service (t/lib/FaasEngines.pm), with the test function
# built locally into localhost/faas-testfn:test: start, environment,
# labels, host networking, exit reasons, list by label, stop and remove,
# adoption by a restarted controller, and a missing image that is an error
# naming it, with no pull.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasEngines;

use Cwd qw(abs_path);
use HTTP::Tiny;
use JSON::PP;
use Net::EmptyPort qw(empty_port);
use Time::HiRes qw(time sleep);

my $REPO   = abs_path("$FindBin::Bin/..");
my $TESTFN = "$REPO/build/faas-testfn";
my $DRIVER = FaasEngines::Driver::path();
my $IMAGE  = $FaasEngines::TESTFN_IMAGE;

for my $bin ($TESTFN, $DRIVER) {
    if (!-x $bin) {
        plan tests => 1;
        fail("$bin is built (run make)");
        exit 1;
    }
}

my $http = HTTP::Tiny->new(timeout => 5);
my %issued;
my %DRIVER_ENV = (FAAS_LEAK_MARKER => 'must-not-leak');

sub port {
    for (1 .. 50) {
        my $p = empty_port({ host => '127.0.0.1' });
        return $p unless $issued{$p}++;
    }
    die 'no free port';
}

sub wait_for {
    my ($cond, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.002;
    }
    return $cond->();
}

sub wait_healthz {
    my ($port, $since) = @_;
    my $ok = wait_for(sub {
        $http->get("http://127.0.0.1:$port/healthz")->{status} == 200;
    }, 15);
    return $ok ? time - $since : undef;
}

sub echo {
    my ($port) = @_;
    my $r = $http->get("http://127.0.0.1:$port/echo");
    return $r->{status} == 200 ? decode_json($r->{content}) : undef;
}

sub port_closed {
    my ($port) = @_;
    return $http->get("http://127.0.0.1:$port/healthz")->{status} == 599;
}


sub test_engine {
    my ($engine) = @_;
    my $E = "[$engine]";

    my $e = eval { FaasEngines->start($engine) };
    if (!ok($e, "$E the engine starts")) {
        diag $@;
        return;
    }

    my $built = eval { $e->build_testfn_image };
    if (!ok(defined $built, "$E build $IMAGE with the engine's own client")) {
        diag $@;
        return;
    }
    note(sprintf '%s image built in %.2f s', $engine, $built);
    my @images = $e->image_tags;
    ok((grep { $_ eq $IMAGE } @images), "$E the engine has the image");

    my $d = FaasEngines::Driver->new('docker', $e->host, %DRIVER_ENV);
    my %started;

    my $start = sub {
        my ($id, $port, $image, @env) = @_;
        my $r = $d->cmd(start => 'hello', 'r1', $id, $port, $image, '-',
                        @env);
        $started{ $r->{handle} } = 1 if $r->{ok};
        return $r;
    };

    # --- start: the container answers on the host's loopback -----------------

    my $port = port();
    my $t0 = time;
    my $r = $start->('web1', $port, $IMAGE, 'GREETING=hello world', 'PORT=1');
    ok($r->{ok}, "$E start a replica") or diag explain $r;
    like($r->{handle}, qr/^[0-9a-f]{64}$/, "$E the handle is the container id");
    my $took = wait_healthz($port, $t0);
    ok(defined $took, "$E it answers /healthz on 127.0.0.1:$port (host "
       . 'networking)');
    note(sprintf '%s: start to first answer %.0f ms (the start call %.0f ms)',
         $engine, ($took // 0) * 1000, $r->{ms});

    my $echo = echo($port);
    is($echo->{function}, 'hello', "$E it got FAAS_FUNCTION");
    is($echo->{revision}, 'r1', "$E it got FAAS_REVISION");
    is($echo->{port}, $port, "$E it got PORT, not the function's PORT=1");

    my ($st, $c) = $e->api(GET => "/containers/$r->{handle}/json");
    is($st, 200, "$E the engine knows the container");
    is($c->{Name}, '/faas-web1', "$E it is named faas-<replica id>");
    my %env = map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () } @{ $c->{Config}{Env} };
    is_deeply({ map { $_ => $env{$_} }
                qw(PORT port FAAS_FUNCTION FAAS_REVISION GREETING) },
              { PORT => $port, port => $port, FAAS_FUNCTION => 'hello',
                FAAS_REVISION => 'r1', GREETING => 'hello world' },
              "$E its environment has PORT, port, FAAS_* and the "
              . "function's env");
    is(scalar(grep { /^PORT=/ } @{ $c->{Config}{Env} }), 1,
       "$E PORT is set once");
    ok(!exists $env{FAAS_LEAK_MARKER}, "$E nothing of the controller's "
       . 'environment');
    my %labels = %{ $c->{Config}{Labels} // {} };
    is_deeply({ map { $_ => $labels{$_} } grep { /^faas\./ } keys %labels },
              { 'faas.managed' => '1', 'faas.function' => 'hello',
                'faas.revision' => 'r1', 'faas.replica' => 'web1',
                'faas.port' => "$port" },
              "$E it is labelled with function, revision, replica and port");
    is($c->{HostConfig}{NetworkMode}, 'host', "$E host networking");
    like($c->{HostConfig}{RestartPolicy}{Name} // '', qr/^(no|)$/,
         "$E no restart policy");
    is_deeply($c->{Config}{Entrypoint}, ['/faas-testfn'],
              "$E the image's own entrypoint");
    ok(!$c->{Config}{Cmd} || !@{ $c->{Config}{Cmd} }, "$E no Cmd override");

    my $i = $d->cmd(inspect => $r->{handle});
    is_deeply($i->{info}, {
        function => 'hello', revision => 'r1', replica_id => 'web1',
        handle => $r->{handle}, address => "127.0.0.1:$port", port => $port,
        running => JSON::PP::true, exit_reason => '',
    }, "$E inspect: running, with names, port and address from the labels");

    # a container that is not ours
    ($st) = $e->api(POST => '/containers/create?name=not-faas',
                    { Image => $IMAGE, Labels => { other => '1' } });
    is($st, 201, "$E create a container without the faas labels");

    # --- how containers end ----------------------------------------------------

    my $r3 = $start->('exit3', port(), $IMAGE, 'TESTFN_EXIT_AFTER_MS=200');
    ok($r3->{ok}, "$E start a replica that exits with status 3 after 200 ms");
    ok(wait_for(sub { $i = $d->cmd(inspect => $r3->{handle});
                      $i->{ok} && !$i->{info}{running} }, 10),
       "$E it is reported not running");
    is($i->{info}{exit_reason}, 'exited with status 3', "$E with its status");

    my $port9 = port();
    my $r9 = $start->('kill9', $port9, $IMAGE);
    ok(defined wait_healthz($port9, time), "$E start another");
    # as the kernel's OOM killer would: from outside, not through the engine
    ($st, $c) = $e->api(GET => "/containers/$r9->{handle}/json");
    my $pid9 = $c->{State}{Pid} // 0;
    ok($pid9 > 1 && kill('KILL', $pid9), "$E SIGKILL its process ($pid9)");
    ok(wait_for(sub { $i = $d->cmd(inspect => $r9->{handle});
                      $i->{ok} && !$i->{info}{running} }, 10),
       "$E it is reported not running");
    is($i->{info}{exit_reason}, 'exited with status 137 (killed by signal 9)',
       "$E killed by signal 9");

    my $l = $d->cmd('list');
    ok($l->{ok}, "$E list") or diag explain $l;
    my %by = map { $_->{replica_id} => $_ } @{ $l->{replicas} };
    is_deeply([ sort keys %by ], [qw(exit3 kill9 web1)],
              "$E list finds the faas-labelled containers only");
    ok($by{web1}{running}, "$E web1 runs");
    is($by{web1}{handle}, $r->{handle}, "$E ... under its handle");
    is($by{web1}{address}, "127.0.0.1:$port", "$E ... at its address");
    is($by{exit3}{exit_reason}, 'exited with status 3',
       "$E exit3 ended with status 3");
    ok(!$by{kill9}{running}, "$E kill9 does not run");

    # --- stop and remove -------------------------------------------------------

    $t0 = time;
    my $s = $d->cmd(stop => $r->{handle}, 5000);
    ok($s->{ok}, "$E stop web1") or diag explain $s;
    cmp_ok(time - $t0, '<', 4, "$E without waiting for the grace period "
           . '(it exits on SIGTERM)');
    ok(port_closed($port), "$E its port is closed");
    ($st) = $e->api(GET => "/containers/$r->{handle}/json");
    is($st, 404, "$E the container is removed");
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, "$E stopping it again "
       . 'succeeds');
    $i = $d->cmd(inspect => $r->{handle});
    ok($i->{ok} && !$i->{info}{running}, "$E inspect after stop: not running");
    like($i->{info}{exit_reason}, qr/no longer exists/, "$E ... it is gone");

    for my $h ($r3->{handle}, $r9->{handle}) {
        ok($d->cmd(stop => $h, 1000)->{ok}, "$E stop an exited replica");
        ($st) = $e->api(GET => "/containers/$h/json");
        is($st, 404, "$E ... removes it");
    }
    delete @started{ $r->{handle}, $r3->{handle}, $r9->{handle} };

    # --- a missing image is an error naming it; nothing is pulled ---------------

    my @calls_before = $e->api_calls;
    $t0 = time;
    my $m = $start->('miss1', port(), 'localhost/faas-missing:1');
    my $m_took = time - $t0;
    ok(!$m->{ok}, "$E a missing image cannot start");
    my $want = 'image localhost/faas-missing:1 not found: build or load it; '
             . 'images are never pulled (engine: ';
    like($m->{error}, qr/^\Q$want\E.+\)$/,
         "$E the error names the image and says it is never pulled");
    cmp_ok($m_took, '<', 5, "$E it fails at once");
    is_deeply([ $e->image_tags ], \@images, "$E the engine's images are "
              . 'unchanged');
    my @calls = $e->api_calls;
    splice @calls, 0, scalar @calls_before;
    ok((grep { m{^POST /v1\.41/containers/create\?name=faas-miss1$} } @calls),
       "$E the engine logged the create call")
        or diag explain \@calls;
    ok(!(grep { m{/images/create|/pull} } $e->api_calls),
       "$E and never a pull");
    ($st) = $e->api(GET => '/containers/faas-miss1/json');
    is($st, 404, "$E no container is left behind");

    my $dup = $start->('web2', port(), $IMAGE);
    ok($dup->{ok}, "$E start web2");
    my $dup2 = $start->('web2', port(), $IMAGE);
    ok(!$dup2->{ok}, "$E a second replica with the same id is refused");
    like($dup2->{error}, qr/faas-web2 exists already/, "$E ... saying so");
    ok($d->cmd(stop => $dup->{handle}, 1000)->{ok}, "$E stop web2");
    delete $started{ $dup->{handle} };

    my $bad = $start->('../x', port(), $IMAGE);
    ok(!$bad->{ok}, "$E a replica id that is no container name is refused");

    # --- many at once ------------------------------------------------------------

    my @ports = map { port() } 1 .. 4;
    $t0 = time;
    my $p = $d->cmd(parallel => map { ['start', 'hello', 'r2', "par$_",
                                       $ports[$_], $IMAGE, '-'] } 0 .. 3);
    my @ok = grep { $_->{ok} } @{ $p->{results} };
    is(scalar @ok, 4, "$E four threads start four containers at once")
        or diag explain $p;
    $started{ $_->{handle} } = 1 for @ok;
    ok(!(grep { !defined wait_healthz($_, $t0) } @ports), "$E all answer");
    $p = $d->cmd(parallel => map { ['stop', $_->{handle}, 2000] } @ok);
    is(scalar(grep { $_->{ok} } @{ $p->{results} }), 4,
       "$E four threads stop them at once");
    delete $started{ $_->{handle} } for @ok;
    ok(!(grep { !port_closed($_) } @ports), "$E all are gone");

    # --- a restarted controller adopts what runs ------------------------------

    my $aport = port();
    my $a = $start->('adopt1', $aport, $IMAGE);
    ok(defined wait_healthz($aport, time), "$E start a replica");
    kill 'KILL', -$d->pid;
    $d->finish;
    ok(defined wait_healthz($aport, time), "$E it outlives its controller");
    $l = FaasEngines::Driver::once(docker => $e->host, 'list');
    ok($l->{ok}, "$E a new controller lists the containers");
    is_deeply($l->{replicas}, [{
        function => 'hello', revision => 'r1', replica_id => 'adopt1',
        handle => $a->{handle}, address => "127.0.0.1:$aport",
        port => $aport, running => JSON::PP::true, exit_reason => '',
    }], "$E and finds the running replica");
    $s = FaasEngines::Driver::once(docker => $e->host, stop => $a->{handle},
                                   2000);
    ok($s->{ok}, "$E and stops it");
    ok(port_closed($aport), "$E it is gone");
    delete $started{ $a->{handle} };

    ($st, my $left) = $e->api(GET => '/containers/json?all=true');
    is_deeply([ map { @{ $_->{Names} } } @$left ], ['/not-faas'],
              "$E only the container that is not ours is left");

    for my $h (keys %started) {
        FaasEngines::Driver::once(docker => $e->host, stop => $h, 0);
    }

    my $bad_host = FaasEngines::Driver::once(docker => 'tcp://127.0.0.1:2375',
                                             'list');
    like($bad_host->{error}, qr/only unix:/, "$E only unix sockets are "
         . 'supported');
    my $gone = FaasEngines::Driver::once(docker => 'unix:///nonexistent.sock',
                                         'list');
    ok(!$gone->{ok}, "$E an engine that is not there is an error");
    like($gone->{error}, qr{/nonexistent\.sock}, "$E naming the socket");

    $e->stop;
}


for my $engine (qw(dockerd podman)) {
    SKIP: {
        if (my $why = FaasEngines::unavailable($engine)) {
            if (FaasEngines::in_ci()) {
                fail("$engine can run here (CI needs it): $why");
                last SKIP;
            }
            skip "$engine: $why", 1;
        }
        test_engine($engine);
    }
}

done_testing();

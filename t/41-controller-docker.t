#!/usr/bin/perl
# faas-controller end to end with the docker runtime, against a private
# dockerd and then a private Podman service (t/lib/FaasEngines.pm), with
# Redis and nginx: a desired count written to Redis (0 -> 1, announced on
# <prefix>ch:desired when the controller listens there; with --scaler off
# when it has a scaler) starts a labelled, host-networked container that
# answers through nginx (the time from the write to the endpoint being
# published is printed, median of 5);
# a cold request through nginx wakes the revision and is answered (timed
# too); a container killed behind the controller's back is replaced and
# traffic recovers; a revision whose image is missing shows an error naming
# the image in Redis and on nginx's status page, retried with a backoff and
# never pulled; a controller killed with SIGKILL and started again adopts
# the running container (same id, no second one); desired 0 stops and
# removes it.  No container is left at the end.
#
# An engine whose package is not installed is skipped with the reason
# (under CI=true that is a failure: make deps installs both).

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use FaasController;
use FaasEngines;

use HTTP::Tiny;
use Time::HiRes qw(time sleep);

my $IMAGE   = $FaasEngines::TESTFN_IMAGE;
my $MISSING = 'localhost/does-not-exist:1';
my $TRIALS  = 5;
my $BACKOFF_WINDOW_S = 10;

{
    my $t = FaasTest->new;
    my @missing = grep { !-e $_->[1] } (
        [ 'build/faas-testfn', $t->testfn_path ],
        [ 'the module', $t->module_path ],
        [ 'faas-controller', FaasController->binary_of($t) ],
    );
    if (@missing) {
        plan tests => 1;
        fail(join(', ', map { $_->[0] } @missing) . ' built (run make)');
        exit 1;
    }
}

my $FUNCTIONS = <<"END";
faas_function cdk {
    revision v1 image=$IMAGE;
    health /healthz;
    queue size=100 timeout=20s;
}

faas_function nox {
    revision v1 image=$MISSING;
    health /healthz;
}
END

my $CONF = <<"END";
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms metrics=200ms;

$FUNCTIONS

%%FRONT%%
END

my %FIGURES;    # engine => { publish => [ms...], cold => ms }


sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}


# Flags that keep hand-written desired counts in force when the
# controller runs a scaler of its own (none when it has no such switch).
sub scaler_flags {
    my ($bin) = @_;
    open(my $fh, '-|', $bin, '--help') or die "$bin --help: $!";
    my $help = do { local $/; <$fh> } // '';
    close $fh;
    return $help =~ /^\s*--scaler\b.*\boff\b/m ? ('--scaler', 'off') : ();
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
    if (!ok(defined $built, "$E $IMAGE built locally")) {
        diag $@;
        return;
    }
    my @images = $e->image_tags;

    my $t = FaasTest->new;
    $t->start_redis;
    $t->start_nginx($CONF);

    my $c = FaasController->new($t, runtime => 'docker', args => [
        '--docker-host', $e->host,
        scaler_flags(FaasController->binary_of($t)) ]);
    $c->start;

    # Is there a channel to say "desired changed, apply it now"?  The
    # controller subscribes to it (and to ch:wake) when it has one.
    my $numsub = sub { ($t->redis('PUBSUB', 'NUMSUB', $_[0]) || [])->[1] // 0 };
    $t->wait_until(sub { $numsub->('faas:ch:wake') > 0 }, 5,
                   "$E the controller subscribes to faas:ch:wake");
    my $desired_ch = $numsub->('faas:ch:desired') > 0;

    my %CDK = ('faas.managed' => 1, 'faas.function' => 'cdk',
               'faas.revision' => 'v1');
    my $cdk_containers = sub { $e->containers(%CDK) };
    my $desired = sub {
        my ($fn, $n) = @_;
        # "by": a count by hand, which a scaler that is on leaves alone
        $t->redis('HSET', "faas:desired:$fn:v1", 'replicas', $n,
                  'reason', 'test', 'at_ms', int(time * 1000), 'by', 'test');
        $t->redis('PUBLISH', 'faas:ch:desired', "$fn v1") if $desired_ch;
    };
    # what nginx shows of a revision (the shared zone every worker routes by)
    my $nginx_rev = sub {
        my ($fn) = @_;
        my $st = $t->get('/faas/status')->{json} or return {};
        my ($f) = grep { $_->{name} eq $fn } @{ $st->{functions} || [] };
        return ($f->{revisions} || [])->[0] // {};
    };
    my $gone = sub {
        my ($what) = @_;
        $t->wait_until(sub { !$cdk_containers->() && !%{ $c->endpoints('cdk', 'v1') } },
                       15, "$E $what: the container is stopped and removed");
    };

    # --- desired 0 -> 1: started, labelled, published, answering; timed -----

    my @publish_ms;
    for my $trial (1 .. $TRIALS) {
        my $sub = $t->redis_subscribe('faas:ch:endpoints');
        my $t0 = time;
        $desired->('cdk', 1);
        my ($msg, $ms);
        while (defined($msg = $sub->next_message(20))) {
            $ms = (time - $t0) * 1000;
            last if $msg =~ /^up cdk v1 /;
        }
        $sub->close;
        if (!ok(defined $msg, "$E trial $trial: 'up cdk v1' published")) {
            diag $c->log;
            last;
        }
        push @publish_ms, $ms;
        my (undef, undef, undef, $id, $addr) = split ' ', $msg;

        # nginx applies the message as the test gets it: a request sent
        # before would park and send a wake (which is the cold path, below)
        $t->wait_until(sub { ($nginx_rev->('cdk')->{ready} // 0) == 1 }, 5,
                       "$E trial $trial: nginx has the replica");

        my $res = $t->get('/function/cdk/echo');
        is($res->{status}, 200, "$E trial $trial: cdk answers through nginx");

        if ($trial == 1) {
            like($addr, qr/^127\.0\.0\.1:\d+$/, "$E the endpoint is on 127.0.0.1");
            is($res->{json}{function}, 'cdk', "$E the container got FAAS_FUNCTION");
            is($res->{json}{revision}, 'v1', "$E and FAAS_REVISION v1");
            is($res->{json}{path}, '/echo', "$E and the path after the function");
            my ($port) = $addr =~ /:(\d+)$/;
            is($res->{headers}{'x-testfn-port'}, $port, "$E it listens on the published port");

            my @cs = $cdk_containers->();
            is(scalar @cs, 1, "$E one container carries the labels "
               . 'faas.managed=1, faas.function=cdk, faas.revision=v1');
            my ($st, $ins) = $e->api(GET => "/containers/$cs[0]{Id}/json");
            is($st, 200, "$E inspect it");
            is($ins->{Config}{Labels}{'faas.replica'}, $id,
               "$E labelled with the published replica id ($id)");
            is($ins->{Config}{Labels}{'faas.port'}, $port, "$E and its port");
            is($ins->{HostConfig}{NetworkMode}, 'host', "$E host networking");
            is($ins->{Config}{Image}, $IMAGE, "$E the revision's image");
            my %env = map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () }
                      @{ $ins->{Config}{Env} || [] };
            is($env{PORT}, $port, "$E PORT is the assigned port");
            ok($ins->{State}{Running}, "$E it runs");

            my $s = $c->status('cdk', 'v1');
            is_deeply([ @$s{qw(desired running ready)} ], [ 1, 1, 1 ],
                      "$E status: desired 1, running 1, ready 1");
        }

        $desired->('cdk', 0);
        $gone->("trial $trial: desired 0");
    }

    my $med = median(@publish_ms);
    $FIGURES{$engine}{publish} = \@publish_ms;
    $FIGURES{$engine}{how} = $desired_ch ? 'HSET + PUBLISH ch:desired'
                                         : 'HSET, polled every 200 ms';
    diag(sprintf("%s: desired 0->1 (%s) to endpoint published: %s ms; median %.0f ms",
                 $engine, $FIGURES{$engine}{how},
                 join(', ', map { sprintf '%.0f', $_ } @publish_ms), $med // -1));

    # --- a missing image: error naming it, backoff, no pull ------------------
    # (its window of retries runs while the next steps go on)

    my $create_nox = qr{^POST /v1\.41/containers/create\?name=faas-nox-};
    my $creates0 = $e->api_calls_matching($create_nox);
    my $nox_t0 = time;
    $desired->('nox', 1);

    # --- a cold request through nginx: wake, start, answer --------------------

    ok(!%{ $c->endpoints('cdk', 'v1') }, "$E cdk is at zero");
    my $t0 = time;
    my $res = $t->get('/function/cdk/cold');
    my $cold_ms = (time - $t0) * 1000;
    is($res->{status}, 200, "$E a cold request through nginx is answered 200");
    is($res->{json}{revision}, 'v1', "$E by revision v1");
    $FIGURES{$engine}{cold} = $cold_ms;
    diag(sprintf('%s: cold request through nginx (park, wake, create and start the '
                 . 'container, probe, publish, proxy): %.0f ms', $engine, $cold_ms));
    my %d = @{ $t->redis('HGETALL', 'faas:desired:cdk:v1') };
    is($d{reason}, 'wake', "$E the controller raised desired on the wake");
    my @cs = $cdk_containers->();
    is(scalar @cs, 1, "$E one container for it");

    # --- killed behind the controller's back: replaced, traffic recovers ----

    my ($id) = keys %{ $c->endpoints('cdk', 'v1') };
    my $old = $cs[0]{Id};
    my ($st, $ins) = $e->api(GET => "/containers/$old/json");
    my $pid = $ins->{State}{Pid} // 0;
    ok($pid > 1 && kill('KILL', $pid), "$E SIGKILL the container's process ($pid)");
    $t->wait_until(sub {
        my @now = $cdk_containers->();
        @now == 1 && $now[0]{Id} ne $old && $now[0]{State} eq 'running'
    }, 15, "$E a new container replaces it");
    $t->wait_until(sub { $t->get('/function/cdk/x')->{status} == 200 }, 10,
                   "$E traffic recovers");
    $t->wait_until(sub { ($c->replicas('cdk', 'v1')->{$id}{state} // '') eq 'ready' }, 10,
                   "$E replica $id is ready again");
    my $rec = $c->replicas('cdk', 'v1')->{$id};
    is($rec->{restarts}, 1, "$E its record counts the restart");
    like($rec->{last_exit} // '', qr/137|signal 9/, "$E and says why it ended: "
         . ($rec->{last_exit} // ''));
    my @ok = grep { $_->{status} == 200 } @{ $t->get_many('/function/cdk/x', 20, 5) };
    is(scalar @ok, 20, "$E 20 requests after the replacement all answered 200");
    ($st) = $e->api(GET => "/containers/$old/json");
    is($st, 404, "$E the killed container was removed");

    # --- the missing image, checked ------------------------------------------

    $t->wait_until(sub { ($c->status('nox', 'v1')->{reason} // '') =~ /\Q$MISSING\E/ }, 10,
                   "$E nox's status names the missing image");
    my $ns = $c->status('nox', 'v1');
    like($ns->{state} // '', qr/^(error|backoff)$/, "$E state $ns->{state}");
    like($ns->{reason}, qr/never pulled/, "$E reason: $ns->{reason}");
    $t->wait_until(sub {
        my $ctl = $nginx_rev->('nox')->{controller} // {};
        ($ctl->{state} // '') =~ /^(error|backoff)$/ && ($ctl->{reason} // '') =~ /\Q$MISSING\E/;
    }, 5, "$E nginx's status page shows it under \"controller\"");
    is(scalar $e->containers('faas.function' => 'nox'), 0, "$E no container is left for it");

    my $left = $nox_t0 + $BACKOFF_WINDOW_S - time;
    sleep $left if $left > 0;
    my $creates = $e->api_calls_matching($create_nox) - $creates0;
    ok($creates >= 2 && $creates <= 8, "$E in ${BACKOFF_WINDOW_S} s it tried $creates "
       . 'creates (a backoff, not a storm)');
    ok(!(grep { m{/images/create|/pull} } $e->api_calls), "$E the engine never pulled");
    is_deeply([ $e->image_tags ], \@images, "$E its images are unchanged");

    # --- controller SIGKILL + restart: adopts the running container -----------

    @cs = $cdk_containers->();
    is(scalar @cs, 1, "$E one cdk container before the crash");
    my $before = $cs[0]{Id};
    my $create_cdk = qr{^POST /v1\.41/containers/create\?name=faas-cdk-};
    my $cdk_creates = $e->api_calls_matching($create_cdk);
    $c->kill('KILL');
    is($t->get('/function/cdk/x')->{status}, 200, "$E cdk answers with the controller dead");
    my $cpid = $c->start;
    $t->wait_until(sub { ($t->redis('GET', 'faas:controller') // '') =~ /\bpid $cpid\b/ }, 15,
                   "$E the restarted controller has probed what it found (heartbeat)");
    $t->wait_until(sub { ($c->replicas('cdk', 'v1')->{$id}{state} // '') eq 'ready' }, 10,
                   "$E replica $id is ready under the new controller");
    @cs = $cdk_containers->();
    is_deeply([ map { $_->{Id} } @cs ], [ $before ], "$E the same container, no second one");
    is($e->api_calls_matching($create_cdk), $cdk_creates, "$E no cdk container was created");
    is_deeply([ keys %{ $c->endpoints('cdk', 'v1') } ], [ $id ], "$E its endpoint is kept");
    is($t->get('/function/cdk/x')->{status}, 200, "$E it answers through nginx");
    like($c->log, qr/found replica \Q$id\E of cdk\/v1 on 127\.0\.0\.1:\d+/,
         "$E the restarted controller logs that it found $id");

    # --- desired 0: stopped and removed ----------------------------------------

    $desired->('cdk', 0);
    $desired->('nox', 0);
    $gone->('desired 0');
    my ($port) = $rec->{address} =~ /:(\d+)$/;
    is(HTTP::Tiny->new(timeout => 2)->get("http://127.0.0.1:$port/healthz")->{status}, 599,
       "$E its port is closed");

    $c->stop;
    is($c->exit_status, 0, "$E SIGTERM: the controller exits 0");
    my @all = $e->containers;
    is(scalar @all, 0, "$E every container the test created is gone")
        or diag explain [ map { $_->{Names} } @all ];
    ok(!(grep { m{/images/create|/pull} } $e->api_calls), "$E still no pull");

    $t->stop_nginx;
    $c->log_clean_ok(allow => [ qr/nox\/v1 cannot start: image \Q$MISSING\E not found/ ]);
    $t->log_clean_ok;
    $c->cleanup;
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

if (%FIGURES) {
    diag(join "\n", 'summary (ms):', map {
        sprintf '  %-8s desired 0->1 (%s) to published: median %.0f of %d; cold '
              . 'request through nginx: %.0f', $_, $FIGURES{$_}{how} // '?',
              median(@{ $FIGURES{$_}{publish} || [] }) // -1,
              scalar @{ $FIGURES{$_}{publish} || [] }, $FIGURES{$_}{cold} // -1
    } grep { $FIGURES{$_} } qw(dockerd podman));
}

done_testing();

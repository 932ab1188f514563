#!/usr/bin/perl
# Adoption: a controller killed with SIGKILL and started again finds the
# replicas still running and keeps them (same processes, still published,
# no duplicates); what is beyond the desired count, replicas of functions
# nginx no longer declares and endpoint records no replica backs are
# removed; replicas that ended meanwhile are replaced.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use FaasController;
use Time::HiRes qw(time sleep);

my $t = FaasTest->new;

my $TESTFN = $t->testfn_path;

$t->start_redis;
$t->start_nginx(<<"END");
faas_zone  faas 4m;
faas_redis %%REDIS%% resync=500ms;

faas_function keep {
    revision v1 "exec=$TESTFN";
    scale min=2;
    health /healthz;
}

faas_function trim {
    revision v1 "exec=$TESTFN";
}

%%FRONT%%
END

my $c = FaasController->new($t);
$c->start;

# a count by hand ("by" set: the scaler leaves it alone)
$t->redis('HSET', 'faas:desired:trim:v1', 'replicas', 3, 'by', 'manual');
$t->wait_until(sub { keys(%{ $c->endpoints('keep', 'v1') }) == 2
                     && keys(%{ $c->endpoints('trim', 'v1') }) == 3 }, 10,
               'keep: 2 replicas, trim: 3 replicas published');

my %before = %{ $c->replica_pids };
is(scalar(keys %before), 5, 'five replica processes');
my %eps_keep = %{ $c->endpoints('keep', 'v1') };

# --- SIGKILL and restart: the same replicas ----------------------------------

$c->kill('KILL');
is_deeply($c->replica_pids, \%before, 'the replicas outlive the controller');

# an endpoint nobody backs, as a crashed controller could leave
$t->publish_endpoint('keep', 'v1', 'keep-v1-deadbeef', '127.0.0.1:9');

$c->start;
$t->wait_until(sub { ($c->status('keep', 'v1')->{state} // '') eq 'ok'
                     && ($c->status('trim', 'v1')->{state} // '') eq 'ok' }, 10,
               'both revisions ok after the restart');
is_deeply($c->replica_pids, \%before, 'the same processes, no duplicates, no orphans');
is_deeply($c->endpoints('keep', 'v1'), \%eps_keep,
          'the same endpoints, and the one no replica backs is removed');
like($c->log, qr/endpoint keep-v1-deadbeef of keep\/v1 at 127\.0\.0\.1:9 has no replica: removed/,
     'its removal is logged');
is(scalar(grep { /found replica/ } split /\n/, $c->log), 5, 'five replicas found at start-up');
is($t->get('/function/keep/x')->{status}, 200, 'keep answers');

# --- killed while the desired count went down and a replica died -------------

$c->kill('KILL');
$t->redis('HSET', 'faas:desired:trim:v1', 'replicas', 1);
my ($dead_pid) = grep { $before{$_} =~ /^keep-/ } sort keys %before;
my $dead_id = $before{$dead_pid};
kill 'KILL', $dead_pid;
sleep 0.1;

$c->start;
$t->wait_until(sub { scalar(grep { /^trim-/ } values %{ $c->replica_pids }) == 1 }, 15,
               'trim: the two beyond desired 1 are drained and stopped');
is(scalar(keys %{ $c->endpoints('trim', 'v1') }), 1, 'trim: one endpoint left');
$t->wait_until(sub { scalar(grep { /^keep-/ } values %{ $c->replica_pids }) == 2
                     && keys(%{ $c->endpoints('keep', 'v1') }) == 2 }, 10,
               'keep: the replica that died meanwhile is replaced');
my %now = %{ $c->replica_pids };
ok(!exists $now{$dead_pid}, 'the dead process is not counted');
my ($other_keep) = grep { $before{$_} =~ /^keep-/ && $_ != $dead_pid } keys %before;
ok(exists $now{$other_keep}, 'the live keep replica was kept');
ok(!exists $c->endpoints('keep', 'v1')->{$dead_id}
   || $c->endpoints('keep', 'v1')->{$dead_id} ne $eps_keep{$dead_id},
   'the dead replica\'s old endpoint is gone');

# --- a graceful stop leaves the replicas too; nothing is orphaned ----------

my %running = %{ $c->replica_pids };
$c->stop;
is($c->exit_status, 0, 'SIGTERM: exits 0');
is_deeply($c->replica_pids, \%running, 'replicas keep running after SIGTERM');
$c->start;
$t->wait_until(sub { ($c->status('keep', 'v1')->{state} // '') eq 'ok' }, 10, 'adopted again');
is_deeply($c->replica_pids, \%running, 'and adopted again, unchanged');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

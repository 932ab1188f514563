#!/usr/bin/perl
# The "process" runtime (controller/runtime_process.c) driven through
# build/runtime-driver, with real replicas (build/faas-testfn): start,
# environment, argv, logs, exit statuses, stop with and without SIGKILL,
# adoption by a restarted controller, and reused pids.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasEngines;

use Cwd qw(abs_path);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use Net::EmptyPort qw(empty_port);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

my $REPO   = abs_path("$FindBin::Bin/..");
my $TESTFN = "$REPO/build/faas-testfn";
my $DRIVER = FaasEngines::Driver::path();

for my $bin ($TESTFN, $DRIVER) {
    if (!-x $bin) {
        plan tests => 1;
        fail("$bin is built (run make)");
        exit 1;
    }
}

my $DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
my $dir   = tempdir('faas-rtp-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $state = "$dir/state";
my $http  = HTTP::Tiny->new(timeout => 5);
my %issued;

# a variable in the controller's environment that no replica may see
my %DRIVER_ENV = (FAAS_LEAK_MARKER => 'must-not-leak');

sub port {
    for (1 .. 50) {
        my $p = empty_port({ host => '127.0.0.1' });
        return $p unless $issued{$p}++;
    }
    die 'no free port';
}

sub pid_of { (split /:/, $_[0])[0] }

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    return scalar <$fh>;
}

# state, pgrp, session, start time of a pid, or () if it is gone
sub proc_stat {
    my ($pid) = @_;
    my $s = slurp("/proc/$pid/stat") // return;
    $s =~ s/^.*\) //s;
    my @f = split ' ', $s;    # $f[0] is field 3
    return ($f[0], $f[2], $f[3], $f[19]);
}

# gone, or a zombie nobody reaped (this machine's init may not reap)
sub dead {
    my ($pid) = @_;
    my ($st) = proc_stat($pid);
    return !defined $st || $st eq 'Z';
}

sub wait_for {
    my ($cond, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.002;
    }
    return $cond->();
}

# seconds until GET /healthz answers 200, or undef
sub wait_healthz {
    my ($port, $since) = @_;
    my $ok = wait_for(sub {
        my $r = $http->get("http://127.0.0.1:$port/healthz");
        return $r->{status} == 200;
    }, 5);
    return $ok ? time - $since : undef;
}

sub echo {
    my ($port) = @_;
    my $r = $http->get("http://127.0.0.1:$port/echo");
    return $r->{status} == 200 ? decode_json($r->{content}) : undef;
}

sub port_closed {
    my ($port) = @_;
    my $r = $http->get("http://127.0.0.1:$port/healthz");
    return $r->{status} == 599;
}

sub environ {
    my ($pid) = @_;
    my $e = slurp("/proc/$pid/environ") // return {};
    return { map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () } split /\0/, $e };
}

sub group_members {
    my ($pgid) = @_;
    my @m;
    opendir my $dh, '/proc' or return;
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my ($st, $pgrp) = proc_stat($pid);
        push @m, $pid if defined $pgrp && $pgrp == $pgid && $st ne 'Z';
    }
    return @m;
}

my $d = FaasEngines::Driver->new('process', $state, %DRIVER_ENV);
my %started;    # handle => 1, stopped at the end if still there

sub start {
    my ($id, $port, $exec, @env) = @_;
    my $r = $d->cmd(start => 'hello', 'r1', $id, $port, $exec,
                    "$dir/$id.log", @env);
    $started{ $r->{handle} } = 1 if $r->{ok};
    return $r;
}

# --- a replica starts, answers, and sees exactly its environment -------------

{
    my $port = port();
    my $t0 = time;
    my $r = start('env1', $port, $TESTFN, 'GREETING=hello world',
                  'PORT=1', 'FAAS_REVISION=evil', 'EMPTY=');
    ok($r->{ok}, 'start a testfn replica') or diag explain $r;
    like($r->{handle}, qr/^\d+:\d+$/, 'the handle is PID:START_TIME');

    my $took = wait_healthz($port, $t0);
    ok(defined $took, "the replica answers /healthz on 127.0.0.1:$port");
    note(sprintf 'process runtime: start to first answer %.1f ms',
         ($took // 0) * 1000);

    my $e = echo($port);
    is($e->{function}, 'hello', 'it got FAAS_FUNCTION');
    is($e->{revision}, 'r1', 'it got FAAS_REVISION (not the env entry)');
    is($e->{port}, $port, 'it listens on PORT');

    my $pid = pid_of($r->{handle});
    is_deeply(environ($pid), {
        PORT          => $port,
        port          => $port,
        FAAS_FUNCTION => 'hello',
        FAAS_REVISION => 'r1',
        GREETING      => 'hello world',
        EMPTY         => '',
        PATH          => $DEFAULT_PATH,
    }, 'its environment is exactly ours, the function\'s env and PATH: '
       . 'nothing inherited, PORT and FAAS_* not overridden');

    my ($st, $pgrp, $sid) = proc_stat($pid);
    is($pgrp, $pid, 'it leads its own process group');
    is($sid, $pid, 'and its own session');
    my (undef, $dpgrp) = proc_stat($d->pid);
    isnt($pgrp, $dpgrp, 'not the controller\'s group');

    is(readlink("/proc/$pid/fd/0"), '/dev/null', 'stdin is /dev/null');
    is(readlink("/proc/$pid/fd/1"), "$dir/env1.log", 'stdout goes to the log');
    is(readlink("/proc/$pid/fd/2"), "$dir/env1.log", 'stderr goes to the log');
    opendir my $fds, "/proc/$pid/fd";
    my @extra = grep { /^\d+$/ && $_ > 2
                       && readlink("/proc/$pid/fd/$_") !~ /^socket:/ }
                readdir $fds;
    is_deeply(\@extra, [], 'no other descriptor of the controller leaks in');

    ok(wait_for(sub { (slurp("$dir/env1.log") // '') =~ /listening/ }),
       'its output is in its log');
    is((stat "$dir/env1.log")[2] & 07777, 0640, 'the log is mode 0640');

    my $rec = slurp("$state/env1.replica") // '';
    my (undef, undef, undef, $start_time) = proc_stat($pid);
    like($rec, qr/^pid $pid$/m, 'the state file records the pid');
    like($rec, qr/^start_time $start_time$/m, '... its start time');
    like($rec, qr/^pgid $pid$/m, '... its process group');
    like($rec, qr/^port $port$/m, '... the port');
    like($rec, qr/^replica_id env1$/m, '... the replica id');
    like($rec, qr{^log_path \Q$dir\E/env1\.log$}m, '... the log');
    ok(!-e "$state/env1.replica.tmp", 'no temporary file is left');

    my $i = $d->cmd(inspect => $r->{handle});
    is_deeply($i->{info}, {
        function => 'hello', revision => 'r1', replica_id => 'env1',
        handle => $r->{handle}, address => "127.0.0.1:$port",
        port => $port, running => JSON::PP::true, exit_reason => '',
    }, 'inspect: running, with its names, port and address');

    # stopping a replica that exits on SIGTERM takes no grace period
    my $s = $d->cmd(stop => $r->{handle}, 5000);
    ok($s->{ok}, 'stop it');
    cmp_ok($s->{ms}, '<', 1000, 'at once: it exits on SIGTERM');
    ok(port_closed($port), 'its port is closed');
    ok(dead($pid), 'its process is gone');
    ok(!-e "$state/env1.replica", 'its state file is removed');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok},
       'stopping it again succeeds');
    $i = $d->cmd(inspect => $r->{handle});
    ok($i->{ok} && !$i->{info}{running}, 'inspect after stop: not running');
    like($i->{info}{exit_reason}, qr/no such replica/, '... not recorded');
    delete $started{ $r->{handle} };

    # appending
    my $r2 = start('env1', port(), $TESTFN);
    ok($r2->{ok}, 'the replica id is free again after stop');
    ok(wait_for(sub { my @l = (slurp("$dir/env1.log") // '') =~ /listening/g;
                      @l == 2 }), 'a second run appends to the same log');
    ok($d->cmd(stop => $r2->{handle}, 1000)->{ok}, 'stop it');
}

# --- argv: quoting, paths with spaces, PATH lookup ----------------------------

{
    make_path("$dir/my fn");
    copy($TESTFN, "$dir/my fn/faas-testfn") or die "copy: $!";
    chmod 0755, "$dir/my fn/faas-testfn";

    my $port = port();
    my $exec = qq{'$dir/my fn/faas-testfn' 'arg one' "two \\"quoted\\" \\\$x"}
             . q{ three\ four '' "*" ~};
    my $r = start('argv1', $port, $exec);
    ok($r->{ok}, 'start with a quoted command line') or diag explain $r;
    ok(defined wait_healthz($port, time), 'a program whose path has a '
       . 'space answers');
    my $pid = pid_of($r->{handle});
    my $cmdline = slurp("/proc/$pid/cmdline");
    $cmdline =~ s/\0\z//;
    my @argv = split /\0/, $cmdline, -1;
    is_deeply(\@argv, ["$dir/my fn/faas-testfn", 'arg one',
                       'two "quoted" $x', 'three four', '', '*', '~'],
              'argv is split like a shell splits words, nothing expanded');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, 'stop it');

    $port = port();
    $r = start('path1', $port, 'faas-testfn', "PATH=$REPO/build");
    ok($r->{ok}, 'a bare program name is looked up in the function\'s PATH')
        or diag explain $r;
    ok(defined wait_healthz($port, time), 'and runs');
    is(environ(pid_of($r->{handle}))->{PATH}, "$REPO/build",
       'with that PATH');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, 'stop it');

    $r = start('path2', port(), 'env', 'FOO=1');
    ok($r->{ok}, 'a system program is found in the default PATH');
    ok(wait_for(sub { (slurp("$dir/path2.log") // '') =~ /^FOO=1$/m }),
       'and runs with the function\'s env (env printed it)');
    my $log = slurp("$dir/path2.log") // '';
    unlike($log, qr/FAAS_LEAK_MARKER/, 'the controller\'s environment did '
           . 'not leak (env printed all of it)');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, 'stop it');
}

# --- what cannot start is a clean error ----------------------------------------

{
    open my $fh, '>', "$dir/not-a-program" or die;
    print {$fh} "hello\n";
    close $fh;
    chmod 0755, "$dir/not-a-program";
    open $fh, '>', "$dir/not-executable" or die;
    close $fh;
    chmod 0644, "$dir/not-executable";

    my @bad = (
        ['/nonexistent/dir/fn', qr{cannot run /nonexistent/dir/fn: No such file}],
        ['faas-no-such-program --x', qr/cannot run faas-no-such-program: no executable of that name in PATH \Q$DEFAULT_PATH\E/],
        ['/tmp', qr{cannot run /tmp: not an executable file}],
        ["$dir/not-executable", qr/not an executable file/],
        ["$dir/not-a-program", qr/Exec format error/],
        ["$TESTFN > $dir/out", qr/unquoted '>'/],
        ["$TESTFN 'unterminated", qr/unterminated single quote/],
        ["$TESTFN \$HOME", qr/'\$' expansion/],
        ['   ', qr/empty command/],
    );
    for my $b (@bad) {
        my $r = start('bad1', port(), $b->[0]);
        ok(!$r->{ok}, "exec \"$b->[0]\" is refused");
        like($r->{error}, $b->[1], '... saying why');
    }
    ok(!-e "$state/bad1.replica", 'no state file is left behind');
    is(scalar(grep { $_->{replica_id} eq 'bad1' }
              @{ $d->cmd('list')->{replicas} }), 0,
       'and list shows none of them');

    my $r = start('../evil', port(), $TESTFN);
    ok(!$r->{ok}, 'a replica id that is not a file name is refused');
    like($r->{error}, qr/bad replica id/, '... saying so');

    $r = start('bad2', port(), $TESTFN, 'NOEQUALS');
    ok(!$r->{ok}, 'an env entry without = is refused');

    my $port = port();
    $r = start('dup1', $port, $TESTFN);
    ok($r->{ok}, 'start dup1');
    my $r2 = start('dup1', port(), $TESTFN);
    ok(!$r2->{ok}, 'a second replica with the same id is refused');
    like($r2->{error}, qr/in use/, '... saying the id is in use');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, 'stop dup1');
}

# --- how replicas end ---------------------------------------------------------

{
    my $r = start('exit3', port(), $TESTFN, 'TESTFN_EXIT_AFTER_MS=100');
    ok($r->{ok}, 'start a replica that exits with status 3 after 100 ms');
    my $i;
    ok(wait_for(sub { $i = $d->cmd(inspect => $r->{handle});
                      !$i->{info}{running} }, 5), 'it is reported not running');
    is($i->{info}{exit_reason}, 'exited with status 3', 'with its status');

    my $p = $d->cmd(parallel => map { ['inspect', $r->{handle}] } 1 .. 8);
    is_deeply([ map { $_->{info}{exit_reason} } @{ $p->{results} } ],
              [ ('exited with status 3') x 8 ],
              'eight threads inspecting at once all get the status');
    my ($l) = grep { $_->{replica_id} eq 'exit3' }
              @{ $d->cmd('list')->{replicas} };
    ok($l && !$l->{running}, 'list shows it not running');
    is($l->{exit_reason}, 'exited with status 3', '... with its status');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, 'stopping it succeeds');
    ok(!-e "$state/exit3.replica", 'and removes its state file');

    my $port = port();
    $r = start('kill9', $port, $TESTFN);
    ok(defined wait_healthz($port, time), 'start another');
    kill 'KILL', pid_of($r->{handle});
    ok(wait_for(sub { $i = $d->cmd(inspect => $r->{handle});
                      !$i->{info}{running} }, 5), 'SIGKILLed: not running');
    is($i->{info}{exit_reason}, 'killed by signal 9', 'killed by signal 9');
    ok($d->cmd(stop => $r->{handle}, 1000)->{ok}, 'stop it');
}

# --- stop: SIGKILL after the grace period, to the whole group -------------------

{
    my $r = start('stubborn', port(),
                  q{/bin/sh -c 'trap "" TERM; sleep 30 & exec sleep 31'});
    ok($r->{ok}, 'start a replica (and a child of it) that ignore SIGTERM')
        or diag explain $r;
    my $pgid = pid_of($r->{handle});
    ok(wait_for(sub { group_members($pgid) == 2 }), 'two processes in its '
       . 'group');
    my @members = group_members($pgid);

    my $t0 = time;
    my $s = $d->cmd(stop => $r->{handle}, 600);
    my $took = time - $t0;
    ok($s->{ok}, 'stop it with a 600 ms grace period') or diag explain $s;
    cmp_ok($took, '>=', 0.55, 'it waited for the grace period');
    cmp_ok($took, '<', 5, 'then killed it');
    ok(!(grep { !dead($_) } @members), 'every process of the group is gone');
    ok(!-e "$state/stubborn.replica", 'the state file is removed');

    $r = start('stubborn2', port(),
               q{/bin/sh -c 'trap "" TERM; exec sleep 31'});
    $t0 = time;
    ok($d->cmd(stop => $r->{handle}, 0)->{ok}, 'stop with no grace period');
    cmp_ok(time - $t0, '<', 2, 'kills at once');
    ok(dead(pid_of($r->{handle})), 'it is gone');
}

# --- many at once -----------------------------------------------------------

{
    my @ports = map { port() } 1 .. 8;
    my $t0 = time;
    my $p = $d->cmd(parallel => map { ['start', 'hello', 'r2', "par$_",
                                       $ports[$_], $TESTFN, "$dir/par.log"] }
                                0 .. 7);
    my @ok = grep { $_->{ok} } @{ $p->{results} };
    is(scalar @ok, 8, 'eight threads start eight replicas at once');
    ok(!(grep { !defined wait_healthz($_, $t0) } @ports), 'all answer');
    my @mine = grep { $_->{revision} eq 'r2' && $_->{running} }
               @{ $d->cmd('list')->{replicas} };
    is(scalar @mine, 8, 'list shows all eight running');
    $p = $d->cmd(parallel => map { ['stop', $_->{handle}, 2000] } @ok);
    is(scalar(grep { $_->{ok} } @{ $p->{results} }), 8,
       'eight threads stop them at once');
    ok(!(grep { !port_closed($_) } @ports), 'all are gone');
}

# --- a restarted controller adopts what runs ------------------------------------

{
    my $port = port();
    my $r = start('adopt1', $port, $TESTFN);
    ok(defined wait_healthz($port, time), 'start a replica');
    my $port2 = port();
    my $r2 = start('adopt2', $port2, $TESTFN, 'TESTFN_EXIT_AFTER_MS=300');
    ok($r2->{ok}, 'and one that will exit once its controller is gone');

    # the controller dies: SIGKILL to its whole process group
    kill 'KILL', -$d->pid;
    $d->finish;
    ok(defined wait_healthz($port, time), 'SIGKILL of the controller\'s '
       . 'process group leaves the replica running');
    ok(wait_for(sub { dead(pid_of($r2->{handle})) }), 'the other one has '
       . 'exited meanwhile');

    my $l = FaasEngines::Driver::once(process => $state, 'list');
    ok($l->{ok}, 'a new controller lists the state directory');
    my %by = map { $_->{replica_id} => $_ } @{ $l->{replicas} };
    is_deeply($by{adopt1}, {
        function => 'hello', revision => 'r1', replica_id => 'adopt1',
        handle => $r->{handle}, address => "127.0.0.1:$port", port => $port,
        running => JSON::PP::true, exit_reason => '',
    }, 'and finds the running replica, same handle');
    ok($by{adopt2} && !$by{adopt2}{running}, 'and the one that exited, '
       . 'not running');
    like($by{adopt2}{exit_reason}, qr/^exited/, '... it exited (the status '
         . 'went to its old parent)');

    my $i = FaasEngines::Driver::once(process => $state, inspect => $r->{handle});
    ok($i->{info}{running}, 'inspect by a new controller: running');

    my $s = FaasEngines::Driver::once(process => $state, stop => $r->{handle},
                                      5000);
    ok($s->{ok}, 'a new controller stops the adopted replica');
    ok(port_closed($port), 'it is gone');
    ok(!-e "$state/adopt1.replica", 'its state file too');
    ok(FaasEngines::Driver::once(process => $state, stop => $r2->{handle},
                                 1000)->{ok}, 'and stops the exited one');
    ok(!-e "$state/adopt2.replica", 'removing its state file');
    delete @started{ $r->{handle}, $r2->{handle} };
}

# --- a reused pid is never taken for a replica ----------------------------------

{
    my $pid = fork // die;
    if ($pid == 0) {
        { exec 'sleep', '30' }
        POSIX::_exit(127);
    }
    ok(wait_for(sub { (slurp("/proc/$pid/cmdline") // '') =~ /^sleep/ }),
       'a process that is no replica runs');
    my (undef, undef, undef, $start_time) = proc_stat($pid);
    my $fake = $start_time + 1000;
    open my $fh, '>', "$state/fake1.replica" or die;
    print {$fh} "faas-replica 1\npid $pid\nstart_time $fake\npgid $pid\n"
              . "port 1\nfunction hello\nrevision r1\nreplica_id fake1\n"
              . "log_path /dev/null\n";
    close $fh;
    open $fh, '>', "$state/junk.replica" or die;
    print {$fh} "pid 1\n";
    close $fh;

    my $l = FaasEngines::Driver::once(process => $state, 'list');
    ok($l->{ok}, 'list with a stale record of a reused pid, and a junk file');
    my ($f) = grep { $_->{replica_id} eq 'fake1' } @{ $l->{replicas} };
    ok($f && !$f->{running}, 'the record whose pid now belongs to another '
       . 'process is reported not running');
    is($f->{handle}, "$pid:$fake", '... under its own handle');
    is(scalar @{ $l->{replicas} }, 1, 'the junk file is ignored');

    my $s = FaasEngines::Driver::once(process => $state, stop => "$pid:$fake",
                                      100);
    ok($s->{ok}, 'stopping it succeeds');
    ok(!dead($pid), 'without signalling the process that has the pid now');
    ok(!-e "$state/fake1.replica", 'and removes the stale record');

    my $i = FaasEngines::Driver::once(process => $state,
                                      inspect => "$pid:$start_time");
    ok($i->{ok} && !$i->{info}{running}, 'a handle of a pid with no record '
       . 'is not a running replica');
    $s = FaasEngines::Driver::once(process => $state,
                                   stop => "$pid:$start_time", 100);
    ok($s->{ok} && !dead($pid), 'and stopping it signals nothing');

    my $bad = FaasEngines::Driver::once(process => $state, stop => "$pid", 100);
    ok(!$bad->{ok}, 'a bare pid is not a handle');
    like($bad->{error}, qr/bad handle/, '... saying so');

    kill 'KILL', $pid;
    waitpid $pid, 0;
    unlink "$state/junk.replica";
}

# whatever a failed test left running
for my $h (keys %started) {
    FaasEngines::Driver::once(process => $state, stop => $h, 0);
}

done_testing();

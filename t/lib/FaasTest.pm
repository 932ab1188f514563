package FaasTest;

# Test harness shared by every .t file of nginx-faas.  See the POD at the
# end of this file for the whole API; each public method also carries a
# comment saying what it does and what it returns.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Errno qw(EINPROGRESS EINTR EAGAIN EWOULDBLOCK);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Net::EmptyPort qw(empty_port);    # shipped with Debian's libtest-tcp-perl
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken refaddr);
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_ERROR inet_aton pack_sockaddr_in);
use Test::More ();
use Time::HiRes qw(time sleep);

our $VERSION = '1';

# The repository root: this file is <repo>/t/lib/FaasTest.pm.
my $REPO = abs_path(dirname(abs_path(__FILE__)) . '/../..');

my $NGINX_BIN      = '/usr/sbin/nginx';
my $REDIS_BIN      = '/usr/bin/redis-server';
my $STOP_GRACE_S   = 5;     # SIGTERM .. SIGKILL
my $START_WAIT_S   = 10;    # how long a server may take to accept connections
my $HTTP_TIMEOUT_S = 10;

# Every live harness object, so that END can stop what they started even
# when a test dies with the object still referenced.  Weak references:
# an object that goes out of scope normally is cleaned up by DESTROY.
my %LIVE;

# Ports handed out by any harness object of this process, so that two
# calls never return the same port (a port freed by a stopped server is
# not reused by another one either).
my %ISSUED_PORTS;

# ---------------------------------------------------------------------------
# Construction and cleanup
# ---------------------------------------------------------------------------

# FaasTest->new(%opt): a harness with its own temporary prefix directory.
# Options: prefix => 'faas:' (the Redis key prefix of the module's schema).
# Returns the object.  Env FAAS_TEST_KEEP=1 keeps the directory (its path
# is printed with diag); env FAAS_ASAN=1 selects ASan mode (see asan()).
sub new {
    my ($class, %opt) = @_;
    my $keep = ($ENV{FAAS_TEST_KEEP} // '') eq '1';
    my $dir  = tempdir('faas-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    # nginx workers and functions may run as another user: let them in.
    chmod 0755, $dir;

    my $self = bless {
        prefix       => $dir,
        keep         => $keep,
        owner_pid    => $$,
        redis_prefix => $opt{prefix} // 'faas:',
        asan         => ($ENV{FAAS_ASAN} // '') eq '1',
        procs        => {},    # pid => { name => ..., started => seq }
        proc_seq     => 0,
        redis        => undef, # { pid, port, opt }
        redis_conn   => undef, # FaasTest::RedisConn used by redis()
        nginx        => undef, # { pid, opt, block }
        nginx_port   => undef,
        nginx_port2  => undef,
        cleaned      => 0,
    }, $class;

    $LIVE{refaddr $self} = $self;
    weaken($LIVE{refaddr $self});

    # Ctrl-C or a kill of the test: exit normally so that END stops the
    # servers.  Handlers a test installed itself are left alone.
    for my $sig (qw(INT TERM HUP)) {
        my $cur = $SIG{$sig};
        next if defined $cur && $cur ne '' && $cur ne 'DEFAULT';
        my $num = { INT => 2, TERM => 15, HUP => 1 }->{$sig};
        $SIG{$sig} = sub { exit(128 + $num) };
    }

    Test::More::diag("FAAS_TEST_KEEP=1: prefix kept at $dir") if $keep;
    return $self;
}

# Accessors.  prefix: the temporary directory (no trailing slash).  repo:
# the repository root.  build_dir: <repo>/build.  asan: true in ASan mode
# (env FAAS_ASAN=1), when tests needing reload or several workers skip.
sub prefix    { $_[0]{prefix} }
sub repo      { $REPO }
sub build_dir { "$REPO/build" }
sub asan      { $_[0]{asan} }

sub DESTROY {
    my ($self) = @_;
    $self->_cleanup;
}

END {
    for my $self (values %LIVE) {
        $self->_cleanup(1) if $self;
    }
}

# Stops everything the object started (newest first), then removes the
# prefix unless FAAS_TEST_KEEP=1.  Idempotent; does nothing in a forked
# child.  Keeps $? intact: in END it is the test's exit status ($in_end).
sub _cleanup {
    my ($self, $in_end) = @_;
    return if $self->{cleaned} || $self->{owner_pid} != $$;
    $self->{cleaned} = 1;
    my $exit_status = $in_end ? $? : 0;
    local ($?, $!, $@);

    if ($self->{redis_conn}) {
        $self->{redis_conn}->close;
        $self->{redis_conn} = undef;
    }
    my $procs = $self->{procs};
    for my $pid (sort { $procs->{$b}{started} <=> $procs->{$a}{started} } keys %$procs) {
        $self->_stop_pid($pid);
    }

    # A failed test: show the end of the error log, it is usually why.
    my $failed = ($exit_status != 0);
    if (${^GLOBAL_PHASE} ne 'DESTRUCT') {
        my $tb = Test::More->builder;
        $failed ||= !$tb->is_passing;
        if ($failed && -s "$self->{prefix}/error.log") {
            my @lines = split /\n/, $self->error_log;
            @lines = @lines[-40 .. -1] if @lines > 40;
            Test::More::diag(join "\n", "last lines of error.log:", @lines);
            Test::More::diag("set FAAS_TEST_KEEP=1 to keep $self->{prefix}") unless $self->{keep};
        }
    }

    remove_tree($self->{prefix}) unless $self->{keep};
    delete $LIVE{refaddr $self};
}

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

# Starts $cmd (array ref) as a child with extra %$env, stdin from
# /dev/null and stdout/stderr appended to $log.  Remembers it for
# cleanup.  Returns the pid.
sub _spawn {
    my ($self, %a) = @_;
    # Signals stay blocked from before fork until the child has default
    # handlers again: a SIGTERM sent right after the start must not be
    # swallowed by the Perl handler the child inherited (it would then
    # exec and run on, deaf to that signal).
    my $signals = POSIX::SigSet->new(POSIX::SIGINT(), POSIX::SIGTERM(), POSIX::SIGHUP());
    my $old_mask = POSIX::SigSet->new;
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), $signals, $old_mask);
    my $pid = fork;
    if (!defined $pid) {
        my $err = $!;
        POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old_mask);
        croak "fork: $err";
    }
    if ($pid == 0) {
        # Child: never return into the test (no END blocks, no DESTROY).
        eval {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE CHLD);
            POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old_mask);
            my $env = $a{env} || {};
            $ENV{$_} = $env->{$_} for keys %$env;
            open STDIN, '<', '/dev/null' or die "stdin: $!";
            open STDOUT, '>>', $a{log} or die "$a{log}: $!";
            open STDERR, '>&', \*STDOUT or die "stderr: $!";
            exec { $a{cmd}[0] } @{ $a{cmd} } or die "exec $a{cmd}[0]: $!";
        };
        print STDERR $@;
        POSIX::_exit(127);
    }
    $self->{procs}{$pid} = { name => $a{name}, started => ++$self->{proc_seq} };
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old_mask);
    return $pid;
}

# True while the child $pid runs; reaps it (and forgets it) once exited.
sub _running {
    my ($self, $pid) = @_;
    return 0 unless $self->{procs}{$pid};
    my $r = waitpid($pid, WNOHANG);
    return 1 if $r == 0;
    delete $self->{procs}{$pid};
    return 0;
}

# Pids of the live (non-zombie) children of $ppid, from /proc.
sub _children_of {
    my ($ppid) = @_;
    my @kids;
    opendir(my $dh, '/proc') or return;
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $stat = <$fh> // '';
        close $fh;
        # "pid (comm) state ppid ...": comm may hold spaces and parens.
        my ($state, $parent) = $stat =~ /\)\s+(\S)\s+(\d+)/ or next;
        push @kids, $pid + 0 if $parent == $ppid && $state ne 'Z';
    }
    closedir $dh;
    my @sorted = sort { $a <=> $b } @kids;
    return @sorted;    # in scalar context: how many
}

# Stops a child: SIGTERM, waits up to $STOP_GRACE_S, then SIGKILL for it
# and its own children (an nginx master killed hard leaves its workers).
sub _stop_pid {
    my ($self, $pid) = @_;
    return unless $self->_running($pid);
    kill 'TERM', $pid;
    kill 'CONT', $pid;    # a process frozen with SIGSTOP gets the TERM now
    my $deadline = time + $STOP_GRACE_S;
    while (time < $deadline) {
        return unless $self->_running($pid);
        sleep 0.02;
    }
    my $name = $self->{procs}{$pid}{name};
    my @kids = _children_of($pid);
    kill 'KILL', @kids, $pid;
    waitpid($pid, 0);
    delete $self->{procs}{$pid};
    Test::More::diag("$name ($pid) was still running ${STOP_GRACE_S}s after SIGTERM: killed");
}

# A TCP port on 127.0.0.1 that nothing listens on and that this process
# has not handed out before.  Chosen below the kernel's ephemeral range
# (32768+) so that it cannot collide with the source port of a client.
sub _free_port {
    for (1 .. 50) {
        my $port = empty_port({ host => '127.0.0.1', port => 10000 + int(rand(20000)) });
        next if $ISSUED_PORTS{$port}++;
        return $port;
    }
    croak "no free port found";
}

# True if something accepts TCP connections on 127.0.0.1:$port.
sub _port_accepts {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# Waits until $port accepts while child $pid runs.  Returns '' when ready,
# else a text saying why not.
sub _wait_port {
    my ($self, $pid, $port, $timeout) = @_;
    my $deadline = time + $timeout;
    while (1) {
        return "exited with status " . ($? >> 8) . " (signal " . ($? & 127) . ")"
            unless $self->_running($pid);
        return '' if _port_accepts($port);
        return "did not accept connections on port $port within ${timeout}s"
            if time > $deadline;
        sleep 0.01;
    }
}

sub _slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return '';
    local $/;
    my $text = <$fh>;
    return $text // '';
}

# $t->wait_until(sub { ... }, $timeout_s, $what): calls the sub every 10 ms
# until it returns true (an exception counts as false).  Returns 1 then.
# On timeout records a failing test naming $what (with the last exception,
# if any) and returns 0, so both `$t->wait_until(...)` alone and
# `ok($t->wait_until(...))` report the failure.
sub wait_until {
    my ($self, $code, $timeout, $what) = @_;
    $timeout //= 5;
    $what    //= 'condition';
    my $deadline = time + $timeout;
    my $last_err = '';
    while (1) {
        my $ok = eval { $code->() };
        $last_err = $@ ? "$@" : '';
        return 1 if $ok;
        last if time > $deadline;
        sleep 0.01;
    }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::fail("wait_until: $what");
    Test::More::diag("timed out after ${timeout}s waiting for: $what"
        . ($last_err ne '' ? "\nlast exception: $last_err" : ''));
    return 0;
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

# $t->start_redis(%opt): starts redis-server on a free loopback port (or
# opt port => N), without persistence, log in <prefix>/redis-N.log.
# Options: password => 'x' (adds --requirepass and makes redis() AUTH),
# user => 'name' (AUTH user password, for ACL setups given via args),
# args => [ '--maxclients', 100, ... ] extra command-line options.
# Waits until it answers PING; returns the port.
sub start_redis {
    my ($self, %opt) = @_;
    croak "redis already running" if $self->{redis};
    my $port = $opt{port} // _free_port();
    my @cmd = ($REDIS_BIN,
        '--port', $port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', $self->{prefix}, '--daemonize', 'no',
        '--logfile', "$self->{prefix}/redis-$port.log");
    push @cmd, '--requirepass', $opt{password} if defined $opt{password};
    push @cmd, @{ $opt{args} || [] };

    my $pid = $self->_spawn(name => "redis-server:$port", cmd => \@cmd,
                            log => "$self->{prefix}/redis-$port.out");
    $self->{redis} = { pid => $pid, port => $port, opt => { %opt, port => $port } };

    my $deadline = time + $START_WAIT_S;
    while (1) {
        last if _redis_answers($port);
        if (!$self->_running($pid) || time > $deadline) {
            my $why = $self->_running($pid) ? "no answer to PING within ${START_WAIT_S}s" : "exited";
            $self->_stop_pid($pid);
            $self->{redis} = undef;
            die "redis-server on port $port: $why\n"
                . _slurp("$self->{prefix}/redis-$port.out")
                . _slurp("$self->{prefix}/redis-$port.log");
        }
        sleep 0.01;
    }
    return $port;
}

# True if a Redis server on $port answers PING (any reply, NOAUTH too).
sub _redis_answers {
    my ($port) = @_;
    my $conn = eval { FaasTest::RedisConn->new(port => $port, timeout => 1) } or return 0;
    my $ok = eval { $conn->send_command('PING'); my @r = $conn->read_reply(1); scalar @r };
    $conn->close;
    return $ok ? 1 : 0;
}

# $t->redis_port: the port of the running (or last) Redis, undef if none.
sub redis_port {
    my ($self) = @_;
    return $self->{redis} ? $self->{redis}{port} : $self->{redis_last_port};
}

# $t->stop_redis: SIGTERM to redis-server, waits until it is gone.
sub stop_redis {
    my ($self) = @_;
    my $r = $self->{redis} or return;
    if ($self->{redis_conn}) {
        $self->{redis_conn}->close;
        $self->{redis_conn} = undef;
    }
    $self->_stop_pid($r->{pid});
    $self->{redis_last_port} = $r->{port};
    $self->{redis_last_opt}  = $r->{opt};
    $self->{redis} = undef;
    return;
}

# $t->restart_redis: stops Redis and starts it again on the same port with
# the same options (the data is gone: no persistence).  Returns the port.
sub restart_redis {
    my ($self) = @_;
    my $opt = $self->{redis} ? $self->{redis}{opt} : $self->{redis_last_opt};
    croak "redis was never started" unless $opt;
    $self->stop_redis;
    return $self->start_redis(%$opt);
}

# A new connection to our Redis, authenticated if start_redis had a password.
sub _redis_connect {
    my ($self) = @_;
    my $r = $self->{redis} or croak "redis is not running";
    return FaasTest::RedisConn->new(port => $r->{port}, password => $r->{opt}{password},
                                    user => $r->{opt}{user});
}

# $t->redis(@command): runs one command on a kept-open connection
# (reconnected when Redis went away).  Returns the decoded reply: a scalar
# for simple strings, bulk strings and integers, an array ref for arrays,
# undef for nil.  An error reply makes it die with the error text
# (e.g. "ERR unknown command ...\n"); an error inside an array (EXEC) is a
# FaasTest::RedisError object whose ->message is the text.
sub redis {
    my ($self, @cmd) = @_;
    croak "redis is not running" unless $self->{redis};
    my $conn = $self->{redis_conn};
    # a forked child must not talk on its parent's socket
    $conn = undef if $conn && ($self->{redis_conn_pid} // 0) != $$;
    $conn = undef if $conn && !$conn->is_usable;
    if (!$conn) {
        $conn = $self->{redis_conn} = $self->_redis_connect;
        $self->{redis_conn_pid} = $$;
    }
    my $reply;
    eval { $reply = $conn->command(@cmd); 1 } or do {
        my $err = $@;
        # A broken connection is dropped so that the next call reconnects.
        if (!ref $err && $err !~ /^redis error: /) {
            $conn->close;
            $self->{redis_conn} = undef;
        }
        $err =~ s/^redis error: // unless ref $err;
        die $err;
    };
    return $reply;
}

# $t->redis_subscribe(@channels): a FaasTest::Subscription on its own
# connection, already subscribed.  Its ->next_message($timeout_s) returns
# the payload of the next message, or undef on timeout.
sub redis_subscribe {
    my ($self, @channels) = @_;
    return FaasTest::Subscription->new($self->_redis_connect, 'SUBSCRIBE', @channels);
}

# $t->redis_psubscribe(@patterns): same with PSUBSCRIBE patterns.
sub redis_psubscribe {
    my ($self, @patterns) = @_;
    return FaasTest::Subscription->new($self->_redis_connect, 'PSUBSCRIBE', @patterns);
}

# The key and channel names of the module's Redis schema v1.
sub endpoints_key     { my ($self, $fn, $rev) = @_; "$self->{redis_prefix}endpoints:$fn:$rev" }
sub endpoints_channel { my ($self) = @_; "$self->{redis_prefix}ch:endpoints" }

# $t->publish_endpoint($fn, $rev, $id, $addr): what the controller does when
# a replica is ready, in one MULTI/EXEC:
#   HSET <prefix>endpoints:FN:REV ID ADDR
#   PUBLISH <prefix>ch:endpoints "up FN REV ID ADDR"
# Returns the number of subscribers that received the message.
sub publish_endpoint {
    my ($self, $fn, $rev, $id, $addr) = @_;
    my $res = $self->_multi(
        [ 'HSET', $self->endpoints_key($fn, $rev), $id, $addr ],
        [ 'PUBLISH', $self->endpoints_channel, "up $fn $rev $id $addr" ]);
    return $res->[1];
}

# $t->unpublish_endpoint($fn, $rev, $id): the controller's removal, in one
# MULTI/EXEC:
#   HDEL <prefix>endpoints:FN:REV ID
#   PUBLISH <prefix>ch:endpoints "down FN REV ID"
# Returns the number of subscribers that received the message.
sub unpublish_endpoint {
    my ($self, $fn, $rev, $id) = @_;
    my $res = $self->_multi(
        [ 'HDEL', $self->endpoints_key($fn, $rev), $id ],
        [ 'PUBLISH', $self->endpoints_channel, "down $fn $rev $id" ]);
    return $res->[1];
}

# Runs the commands in one transaction; returns EXEC's array, dies if any
# command failed.
sub _multi {
    my ($self, @cmds) = @_;
    $self->redis('MULTI');
    $self->redis(@$_) for @cmds;
    my $res = $self->redis('EXEC');
    die "transaction aborted\n" unless ref $res;
    for (@$res) {
        die $_->message . "\n" if ref $_ && $_->isa('FaasTest::RedisError');
    }
    return $res;
}

# ---------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------

# Path of the module to load: the ASan build in ASan mode.
sub module_path {
    my ($self) = @_;
    return $self->{asan} ? "$REPO/build/asan/ngx_http_faas_module.so"
                         : "$REPO/build/ngx_http_faas_module.so";
}

# gcc's libasan, preloaded into nginx in ASan mode.
sub _libasan {
    my $path = `gcc -print-file-name=libasan.so`;
    chomp $path;
    croak "libasan not found (gcc -print-file-name=libasan.so gave '$path')"
        unless $path =~ m{/} && -e $path;
    return abs_path($path);
}

# Environment of nginx processes: the ASan runtime in ASan mode.
sub _nginx_env {
    my ($self) = @_;
    return {} unless $self->{asan};
    return {
        LD_PRELOAD   => _libasan(),
        ASAN_OPTIONS => "detect_leaks=0:abort_on_error=0:log_path=$self->{prefix}/asan",
    };
}

# nginx_port / nginx_port2: the ports that %%PORT%% and %%PORT2%% stand
# for (chosen on first use, kept across reloads and restarts).
sub nginx_port {
    my ($self) = @_;
    return $self->{nginx_port} //= _free_port();
}

sub nginx_port2 {
    my ($self) = @_;
    return $self->{nginx_port2} //= _free_port();
}

# $t->nginx_pid: pid of the nginx master (the single process in ASan mode).
sub nginx_pid {
    my ($self) = @_;
    return $self->{nginx} ? $self->{nginx}{pid} : undef;
}

# $t->worker_pids: pids of the running nginx worker (and cache) processes,
# sorted (their number in scalar context).
sub worker_pids {
    my ($self) = @_;
    my $pid = $self->nginx_pid or return;
    return _children_of($pid);
}

# Replaces the placeholders of a test's http block (see the POD).
# The usual front of a test's functions, %%FRONT%% in a configuration: an
# upstream "faas" with faas_balancer and keepalive, and a server on
# %%PORT%% routing /function/ with faas_pass and answering /faas/status.
my $FRONT = <<'EOF';
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

sub _substitute {
    my ($self, $block) = @_;
    $block =~ s/%%FRONT%%\n?/$FRONT/g;
    $block =~ s/%%PORT%%/$self->nginx_port/ge;
    $block =~ s/%%PORT2%%/$self->nginx_port2/ge;
    $block =~ s/%%PREFIX%%/$self->{prefix}/g;
    $block =~ s/%%MODULE_DIR%%/$self->build_dir/ge;
    if ($block =~ /%%REDIS%%/) {
        my $port = $self->redis_port or croak "%%REDIS%% used but redis was never started";
        $block =~ s/%%REDIS%%/127.0.0.1:$port/g;
    }
    if ($block =~ /(%%[A-Z0-9_]+%%)/) {
        croak "unknown placeholder $1 in nginx config";
    }
    return $block;
}

# The whole nginx.conf around a test's http block.
sub _nginx_conf {
    my ($self, $block, $opt, $error_log) = @_;
    my $p       = $self->{prefix};
    my $master  = $opt->{master_process} // 1;
    my $workers = $opt->{workers} // 2;
    if ($self->{asan}) {
        ($master, $workers) = (0, 1);
    }
    my $level = $opt->{log_level} // 'info';

    my $conf = "# written by t/lib/FaasTest.pm\n";
    $conf .= "load_module " . $self->module_path . ";\n" if $opt->{module} // 1;
    $conf .= "daemon off;\n";
    $conf .= "master_process " . ($master ? 'on' : 'off') . ";\n";
    $conf .= "worker_processes $workers;\n";
    # As root the workers would otherwise run as nobody.
    $conf .= "user root;\n" if $> == 0;
    $conf .= "worker_rlimit_nofile 16384;\n";
    $conf .= "pid $p/nginx.pid;\n";
    $conf .= "error_log $error_log $level;\n";
    $conf .= "$opt->{main}\n" if defined $opt->{main};
    $conf .= "events {\n    worker_connections 4096;\n}\n";
    $conf .= "http {\n";
    $conf .= "    client_body_temp_path $p/client_body_temp;\n";
    $conf .= "    proxy_temp_path $p/proxy_temp;\n";
    $conf .= "    fastcgi_temp_path $p/fastcgi_temp;\n";
    $conf .= "    uwsgi_temp_path $p/uwsgi_temp;\n";
    $conf .= "    scgi_temp_path $p/scgi_temp;\n";
    if (defined $opt->{access_log_format}) {
        (my $fmt = $opt->{access_log_format}) =~ s/'/\\'/g;
        $conf .= "    log_format faas_test '$fmt';\n";
        $conf .= "    access_log $p/access.log faas_test;\n";
    } else {
        $conf .= "    access_log $p/access.log;\n";
    }
    $conf .= $self->_substitute($block) . "\n}\n";
    return $conf;
}

sub _write_file {
    my ($path, $text) = @_;
    open(my $fh, '>', $path) or croak "$path: $!";
    print $fh $text;
    close $fh or croak "$path: $!";
}

# $t->start_nginx($http_block, %opt): writes <prefix>/nginx.conf and runs
# nginx in the foreground as a child of the test, then waits until
# %%PORT%% accepts connections (dies with error.log otherwise).
# Options: module => 0 (stock nginx, no load_module), workers => N (2),
# master_process => 0|1 (1), log_level => 'debug'|'info'|... (info),
# access_log_format => 'nginx log_format string', main => 'main-level
# directives', wait => 0 (do not wait for the port; the default when the
# block has no %%PORT%%, as there is then nothing to wait for).  In ASan mode
# master_process is off and workers is 1 whatever the options.
# Returns the master's pid.
sub start_nginx {
    my ($self, $block, %opt) = @_;
    croak "nginx already running" if $self->{nginx};
    my $p = $self->{prefix};
    _write_file("$p/nginx.conf", $self->_nginx_conf($block, \%opt, "$p/error.log"));

    my $pid = $self->_spawn(
        name => 'nginx',
        cmd  => [ $NGINX_BIN, '-p', "$p/", '-c', "$p/nginx.conf", '-e', "$p/error.log" ],
        env  => $self->_nginx_env,
        log  => "$p/nginx.stderr");
    $self->{nginx} = { pid => $pid, opt => \%opt, block => $block };

    my $wait = $opt{wait} // ($block =~ /%%(?:PORT|FRONT)%%/ ? 1 : 0);
    return $pid unless $wait;
    my $why = $self->_wait_port($pid, $self->nginx_port,
                                $self->{asan} ? 3 * $START_WAIT_S : $START_WAIT_S);
    if ($why ne '') {
        $self->_stop_pid($pid);
        $self->{nginx} = undef;
        die "nginx $why\n--- error.log:\n" . $self->error_log
            . "--- nginx.stderr:\n" . _slurp("$p/nginx.stderr");
    }
    return $pid;
}

# $t->nginx_test_config($http_block, %opt): runs `nginx -t` on such a
# config (same options as start_nginx) without starting anything; its
# messages go to <prefix>/error-test.log, not error.log.
# Returns ($exit_code, $output) where $output is nginx's stderr.
sub nginx_test_config {
    my ($self, $block, %opt) = @_;
    my $p = $self->{prefix};
    _write_file("$p/nginx-test.conf", $self->_nginx_conf($block, \%opt, "$p/error-test.log"));
    my $out = "$p/nginx-test.out";
    unlink $out;
    my $pid = $self->_spawn(
        name => 'nginx -t',
        cmd  => [ $NGINX_BIN, '-t', '-p', "$p/", '-c', "$p/nginx-test.conf",
                  '-e', "$p/error-test.log" ],
        env  => $self->_nginx_env,
        log  => $out);
    waitpid($pid, 0);
    my $code = $? >> 8;
    delete $self->{procs}{$pid};
    return ($code, _slurp($out));
}

# $t->reload_nginx($new_http_block, %opt): rewrites nginx.conf (options
# default to those of start_nginx), sends SIGHUP to the master and waits
# until every worker of the old generation is gone and the new workers
# run.  Dies if nginx logs [emerg] (a refused configuration) or on
# timeout (opt timeout => s, default 10).  Returns 1.  Not available in
# ASan mode (single process): such tests skip if $t->asan.
sub reload_nginx {
    my ($self, $block, %opt) = @_;
    my $n = $self->{nginx} or croak "nginx is not running";
    croak "reload_nginx needs the master process: skip this test when \$t->asan"
        if $self->{asan} || !($n->{opt}{master_process} // 1);
    my %merged = (%{ $n->{opt} }, %opt);
    my $timeout = delete $merged{timeout} // 10;
    my $p = $self->{prefix};
    _write_file("$p/nginx.conf", $self->_nginx_conf($block, \%merged, "$p/error.log"));
    $n->{opt}   = \%merged;
    $n->{block} = $block;

    my $log_offset = -s "$p/error.log" // 0;
    my %old = map { $_ => 1 } _children_of($n->{pid});
    my $workers = $merged{workers} // 2;
    $workers = 1 unless $workers =~ /^\d+$/;    # "auto"
    kill 'HUP', $n->{pid} or croak "kill HUP $n->{pid}: $!";

    my $deadline = time + $timeout;
    my @now;
    while (time < $deadline) {
        my $new_log = substr($self->error_log, $log_offset);
        if (my @emerg = grep { /\[emerg\]/ } split /\n/, $new_log) {
            die "nginx refused the new configuration:\n" . join("\n", @emerg) . "\n";
        }
        croak "nginx exited during reload\n$new_log" unless $self->_running($n->{pid});
        @now = _children_of($n->{pid});
        my @new = grep { !$old{$_} } @now;
        return 1 if @new >= $workers && @new == @now;
        sleep 0.02;
    }
    my @left = grep { $old{$_} } @now;
    die "reload not finished after ${timeout}s: old workers still running: @left\n"
        . "--- error.log since the reload:\n" . substr($self->error_log, $log_offset);
}

# $t->stop_nginx: SIGTERM to nginx (fast shutdown), waits until it is
# gone (SIGKILL after 5 s).
sub stop_nginx {
    my ($self) = @_;
    my $n = $self->{nginx} or return;
    $self->_stop_pid($n->{pid});
    $self->{nginx} = undef;
    return;
}

# $t->revision_status($fn, $rev): revision $rev of function $fn as the
# module's status page at /faas/status shows it (a hash ref; $rev defaults
# to the function's first revision), or {} when it is not there.
sub revision_status {
    my ($self, $fn, $rev) = @_;
    my $st = $self->get('/faas/status')->{json} || {};
    my ($f) = grep { $_->{name} eq $fn } @{ $st->{functions} || [] };
    return {} unless $f;
    my @revs = @{ $f->{revisions} || [] };
    my ($r) = defined $rev ? grep { $_->{name} eq $rev } @revs : $revs[0];
    return $r || {};
}

# $t->background(sub { ... }): runs the sub in a forked child while the
# test goes on.  Returns a sub that waits for the child and returns what
# the sub returned (as text, through a pipe).
sub background {
    my ($self, $code) = @_;
    pipe(my $r, my $w) or croak "pipe: $!";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        close $r;
        print {$w} $code->();
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return sub {
        local $/;
        my $out = <$r>;
        waitpid $pid, 0;
        return $out;
    };
}

# $t->access_log: the text of <prefix>/access.log ('' if none yet).
sub access_log {
    my ($self) = @_;
    return _slurp("$self->{prefix}/access.log");
}

# $t->error_log: the text of <prefix>/error.log ('' if none yet).
sub error_log {
    my ($self) = @_;
    return _slurp("$self->{prefix}/error.log");
}

# $t->asan_reports: the text of every <prefix>/asan* file ASan wrote,
# '' for a clean run.  Complete once nginx has stopped.
sub asan_reports {
    my ($self) = @_;
    my $text = '';
    for my $file (sort { $a cmp $b } glob("$self->{prefix}/asan*")) {
        $text .= "=== $file\n" . _slurp($file);
    }
    return $text;
}

# $t->log_clean_ok(allow => [qr/.../, ...], name => '...'): one Test::More
# assertion that error.log has no [alert], [emerg] or [crit] line, and no
# [error] line unless it matches one of the allow patterns; in ASan mode
# also that ASan reported nothing.  Diags the offending lines on failure.
# Returns the test's result.
sub log_clean_ok {
    my ($self, %opt) = @_;
    my @allow = @{ $opt{allow} || [] };
    my @bad;
    for my $line (split /\n/, $self->error_log) {
        if ($line =~ /\[(?:alert|emerg|crit)\]/) {
            push @bad, $line;
        } elsif ($line =~ /\[error\]/) {
            push @bad, $line unless grep { $line =~ $_ } @allow;
        }
    }
    my $asan = $self->{asan} ? $self->asan_reports : '';
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::ok(!@bad && $asan eq '', $opt{name} // 'error log is clean');
    Test::More::diag(join "\n", "unexpected error.log lines:", @bad) if @bad;
    Test::More::diag("AddressSanitizer reports:\n$asan") if $asan ne '';
    return $ok;
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

# $t->have_testfn: true if <repo>/build/faas-testfn is built.
sub testfn_path { "$REPO/build/faas-testfn" }
sub have_testfn { -x "$REPO/build/faas-testfn" }

# $t->start_fn(%opt): starts a function server with env PORT (a free port
# or opt port), FAAS_FUNCTION (opt function, default 'fn') and
# FAAS_REVISION (opt revision, default '1') plus opt env => {...}; its
# output goes to <prefix>/fn-FUNCTION-PORT.log.  Runs build/faas-testfn
# unless opt bin => path (with args => [...]).  Waits until the port
# accepts unless wait => 0.  Returns { pid, port, addr => "127.0.0.1:PORT",
# log, function, revision }.
sub start_fn {
    my ($self, %opt) = @_;
    my $bin = $opt{bin} // $self->testfn_path;
    croak "$bin is not built (run make)" unless -x $bin;
    my $port     = $opt{port} // _free_port();
    my $function = $opt{function} // 'fn';
    my $revision = $opt{revision} // '1';
    my $log      = "$self->{prefix}/fn-$function-$port.log";
    my %env = (PORT => $port, FAAS_FUNCTION => $function, FAAS_REVISION => $revision,
               %{ $opt{env} || {} });
    my $pid = $self->_spawn(name => "fn $function:$port", cmd => [ $bin, @{ $opt{args} || [] } ],
                            env => \%env, log => $log);
    my $fn = { pid => $pid, port => $port, addr => "127.0.0.1:$port", log => $log,
               function => $function, revision => $revision };
    if ($opt{wait} // 1) {
        my $why = $self->_wait_port($pid, $port, $START_WAIT_S);
        if ($why ne '') {
            $self->_stop_pid($pid);
            die "function $function on port $port $why\n--- $log:\n" . _slurp($log);
        }
    }
    return $fn;
}

# $t->stop_fn($fn): SIGTERM to the function, waits until it is gone
# (SIGKILL after 5 s).
sub stop_fn {
    my ($self, $fn) = @_;
    $self->_stop_pid($fn->{pid});
    return;
}

# $t->kill_fn($fn, $signal): sends $signal (default 'KILL') to the
# function.  For KILL waits until it is gone; other signals (STOP, CONT,
# TERM...) return at once.  Returns nothing.
sub kill_fn {
    my ($self, $fn, $signal) = @_;
    $signal //= 'KILL';
    return unless $self->_running($fn->{pid});
    kill $signal, $fn->{pid};
    if ($signal eq 'KILL' || $signal eq '9') {
        waitpid($fn->{pid}, 0);
        delete $self->{procs}{ $fn->{pid} };
    }
    return;
}

# $t->fn_running($fn): true while the function's process runs.
sub fn_running {
    my ($self, $fn) = @_;
    return $self->_running($fn->{pid});
}

# $t->start_refusing_port: a free port that nothing listens on (and that
# the harness will not hand out again), for "connection refused" tests.
sub start_refusing_port {
    return _free_port();
}

# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

# The URL of $path on nginx (a full http:// URL is returned unchanged).
sub url {
    my ($self, $path) = @_;
    return $path if $path =~ m{^https?://};
    return "http://127.0.0.1:" . $self->nginx_port . $path;
}

# $t->get($path, \%headers): GET on nginx; see request().
sub get {
    my ($self, $path, $headers) = @_;
    return $self->request('GET', $path, undef, $headers);
}

# $t->request($method, $path, $body, \%headers): one request on
# 127.0.0.1:nginx_port (or a full URL), with HTTP::Tiny, a new connection
# each time and a 10 s timeout.  Returns HTTP::Tiny's response hash
# (status, reason, content, headers with lower-case names; status 599 for
# a connection error) plus json => decoded body when it is JSON.
sub request {
    my ($self, $method, $path, $body, $headers) = @_;
    my $http = HTTP::Tiny->new(timeout => $HTTP_TIMEOUT_S, keep_alive => 0,
                               agent => 'faas-test/1');
    my %args;
    $args{headers} = $headers if $headers;
    $args{content} = $body if defined $body;
    my $res = $http->request($method, $self->url($path), \%args);
    my $ctype = $res->{headers}{'content-type'} // '';
    if ($ctype =~ /\bjson\b/i && defined $res->{content} && $res->{content} ne '') {
        my $json = eval { JSON::PP->new->utf8->allow_nonref->decode($res->{content}) };
        $res->{json} = $json if defined $json;
    }
    return $res;
}

# $t->send_request($method, $path, $body): sends one HTTP/1.0 request to
# nginx on a connection of its own and returns the socket without reading
# anything, so that the request stays in flight (parked, or held by a slow
# replica) until $t->read_response, or is aborted by closing the socket.
sub send_request {
    my ($self, $method, $path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->nginx_port,
                                  Proto => 'tcp', Timeout => 5)
        or croak "connect: $!";
    $s->autoflush(1);
    print {$s} "$method $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        . (defined $body ? 'Content-Length: ' . length($body) . "\r\n\r\n$body" : "\r\n");
    return $s;
}

# $t->read_response($socket, $timeout_s): reads the whole answer on a
# send_request socket (up to $timeout_s, 10 by default) and closes it.
# Returns { status, headers (lower-case names), body, json (when the body
# is JSON) }; status 599 when nothing came.
sub read_response {
    my ($self, $s, $timeout) = @_;
    my $deadline = time + ($timeout // $HTTP_TIMEOUT_S);
    my $sel = IO::Select->new($s);
    my $raw = '';
    while (time < $deadline) {
        next unless $sel->can_read($deadline - time);
        my $n = sysread($s, $raw, 65536, length $raw);
        last if !$n;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    for (split /\r\n/, $head // '') {
        $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/;
    }
    my $res = { status => $status // 599, headers => \%h, body => $body // '' };
    my $json = eval { JSON::PP->new->utf8->decode($res->{body}) };
    $res->{json} = $json if ref $json;
    return $res;
}

# $t->get_many($path, $n, $concurrency, \%headers): $n GET requests on
# nginx, at most $concurrency in flight at once (non-blocking sockets and
# select; one HTTP/1.0 connection per request, so no chunked bodies).
# Returns an array ref, in request order, of { status, body, headers }
# (headers with lower-case names); a request that failed at the socket
# level or took more than 30 s has status 599 and the error as body.
sub get_many {
    my ($self, $path, $n, $concurrency, $headers) = @_;
    $concurrency //= 10;
    _raise_nofile($concurrency + 64);
    local $SIG{PIPE} = 'IGNORE';

    my $port = $self->nginx_port;
    my $req  = "GET $path HTTP/1.0\r\nHost: 127.0.0.1:$port\r\n";
    $req .= "$_: $headers->{$_}\r\n" for sort keys %{ $headers || {} };
    $req .= "\r\n";
    my $addr = pack_sockaddr_in($port, inet_aton('127.0.0.1'));
    my $timeout = 30;

    my @results;
    my %active;    # fileno => { fh, index, out (left to write), in, deadline }
    my $next = 0;
    my $finish = sub {
        my ($c, $result) = @_;
        $results[ $c->{index} ] = $result;
        delete $active{ fileno $c->{fh} };
        close $c->{fh};
    };

    while ($next < $n || %active) {
        while ($next < $n && scalar(keys %active) < $concurrency) {
            my $index = $next++;
            my $fh;
            if (!socket($fh, PF_INET, SOCK_STREAM, 0)) {
                $results[$index] = { status => 599, body => "socket: $!", headers => {} };
                next;
            }
            my $flags = fcntl($fh, F_GETFL, 0);
            fcntl($fh, F_SETFL, $flags | O_NONBLOCK);
            if (!connect($fh, $addr) && $! != EINPROGRESS) {
                $results[$index] = { status => 599, body => "connect: $!", headers => {} };
                close $fh;
                next;
            }
            $active{ fileno $fh } = { fh => $fh, index => $index, out => $req, in => '',
                                      deadline => time + $timeout };
        }

        my ($rin, $win) = ('', '');
        for my $c (values %active) {
            if (length $c->{out}) {
                vec($win, fileno $c->{fh}, 1) = 1;    # connecting / writing
            } else {
                vec($rin, fileno $c->{fh}, 1) = 1;    # reading the response
            }
        }
        my ($rout, $wout) = ($rin, $win);
        my $nready = select($rout, $wout, undef, 0.1);
        if ($nready < 0) {
            next if $! == EINTR;
            croak "select: $!";
        }

        for my $fd (keys %active) {
            my $c = $active{$fd};
            if (length $c->{out} && vec($wout, $fd, 1)) {
                my $err = unpack('i', getsockopt($c->{fh}, SOL_SOCKET, SO_ERROR));
                if ($err) {
                    local $! = $err;
                    $finish->($c, { status => 599, body => "connect: $!", headers => {} });
                    next;
                }
                my $w = syswrite($c->{fh}, $c->{out});
                if (defined $w) {
                    substr($c->{out}, 0, $w, '');
                } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                    $finish->($c, { status => 599, body => "write: $!", headers => {} });
                }
                next;
            }
            if (!length $c->{out} && vec($rout, $fd, 1)) {
                my $r = sysread($c->{fh}, my $chunk, 65536);
                if (!defined $r) {
                    next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                    $finish->($c, { status => 599, body => "read: $!", headers => {} });
                } elsif ($r == 0) {
                    $finish->($c, _parse_http_response($c->{in}));
                } else {
                    $c->{in} .= $chunk;
                }
                next;
            }
            if (time > $c->{deadline}) {
                $finish->($c, { status => 599, body => "timeout after ${timeout}s", headers => {} });
            }
        }
    }
    return \@results;
}

# { status, body, headers } of a whole HTTP/1.x response read until EOF.
sub _parse_http_response {
    my ($raw) = @_;
    my $end = index($raw, "\r\n\r\n");
    return { status => 599, body => "incomplete response: $raw", headers => {} } if $end < 0;
    my ($status_line, @lines) = split /\r\n/, substr($raw, 0, $end);
    my ($status) = $status_line =~ m{^HTTP/\d\.\d (\d{3})}
        or return { status => 599, body => "bad status line: $status_line", headers => {} };
    my %headers;
    for (@lines) {
        my ($name, $value) = /^([^:]+):\s*(.*)$/ or next;
        $name = lc $name;
        $headers{$name} = exists $headers{$name} ? "$headers{$name}, $value" : $value;
    }
    return { status => $status + 0, body => substr($raw, $end + 4), headers => \%headers };
}

# Makes sure the soft limit of open files allows $need descriptors, with
# prlimit(1) (util-linux) since Perl's core has no setrlimit.
sub _raise_nofile {
    my ($need) = @_;
    my ($soft, $hard) = _slurp('/proc/self/limits') =~ /^Max open files\s+(\S+)\s+(\S+)/m
        or return;
    return if $soft eq 'unlimited' || $soft >= $need;
    my $new = ($hard eq 'unlimited' || $hard >= 20000) ? 20000 : $hard;
    system('prlimit', "--pid=$$", "--nofile=$new:$hard") == 0
        or Test::More::diag("could not raise the open files limit from $soft to $new");
}

# ---------------------------------------------------------------------------
# A minimal RESP2 client
# ---------------------------------------------------------------------------

package FaasTest::RedisError;

# An error reply found inside an array reply (e.g. in EXEC's result).
sub new     { my ($class, $message) = @_; bless { message => $message }, $class }
sub message { $_[0]{message} }

package FaasTest::RedisConn;

use Carp qw(croak);
use Errno qw(EINTR EAGAIN);
use IO::Select;
use IO::Socket::INET;
use Socket qw(MSG_PEEK);
use Time::HiRes qw(time);

my $CMD_TIMEOUT_S = 10;

# FaasTest::RedisConn->new(port => N, password => ..., user => ...,
# timeout => s): a connection to 127.0.0.1:N, authenticated when a
# password is given.  Dies if it cannot connect.
sub new {
    my ($class, %opt) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $opt{port},
                                     Proto => 'tcp', Timeout => $opt{timeout} // 5)
        or die "cannot connect to redis on port $opt{port}: $@\n";
    binmode $sock;
    my $self = bless { sock => $sock, buf => '', port => $opt{port} }, $class;
    if (defined $opt{password}) {
        $self->command('AUTH', defined $opt{user} ? ($opt{user}) : (), $opt{password});
    }
    return $self;
}

sub close {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
    $self->{sock} = undef;
}

# False when the server closed the connection (or sent something nobody
# asked for): an idle request/reply connection has nothing to read.
sub is_usable {
    my ($self) = @_;
    return 0 unless $self->{sock};
    return 1 unless IO::Select->new($self->{sock})->can_read(0);
    return 0;
}

# Sends one command, encoded as an array of bulk strings.
sub send_command {
    my ($self, @args) = @_;
    croak "connection closed" unless $self->{sock};
    my $msg = '*' . scalar(@args) . "\r\n";
    for my $arg (@args) {
        my $bytes = defined $arg ? "$arg" : '';
        utf8::encode($bytes) if utf8::is_utf8($bytes);
        $msg .= '$' . length($bytes) . "\r\n$bytes\r\n";
    }
    local $SIG{PIPE} = 'IGNORE';
    while (length $msg) {
        my $w = syswrite($self->{sock}, $msg);
        if (!defined $w) {
            next if $! == EINTR || $! == EAGAIN;
            die "redis write failed: $!\n";
        }
        substr($msg, 0, $w, '');
    }
}

# Reads one reply, waiting up to $timeout seconds.  Returns (1, $value) or
# an empty list on timeout.  Dies when the connection is closed.
sub read_reply {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // $CMD_TIMEOUT_S);
    my $select = IO::Select->new($self->{sock});
    while (1) {
        my @parsed = _parse(\$self->{buf}, 0);
        if (@parsed) {
            substr($self->{buf}, 0, $parsed[1], '');
            return (1, $parsed[0]);
        }
        my $left = $deadline - time;
        return if $left <= 0;
        next unless $select->can_read($left);
        my $r = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        if (!defined $r) {
            next if $! == EINTR || $! == EAGAIN;
            die "redis read failed: $!\n";
        }
        die "redis closed the connection\n" if $r == 0;
    }
}

# Sends a command and returns its reply; dies "redis error: TEXT\n" on an
# error reply and "redis ...\n" on I/O problems or a 10 s timeout.
sub command {
    my ($self, @args) = @_;
    $self->send_command(@args);
    my @r = $self->read_reply($CMD_TIMEOUT_S);
    die "redis timeout after ${CMD_TIMEOUT_S}s waiting for the reply to $args[0]\n" unless @r;
    my $reply = $r[1];
    die "redis error: " . $reply->message . "\n"
        if ref $reply && ref $reply ne 'ARRAY' && $reply->isa('FaasTest::RedisError');
    return $reply;
}

# Parses one RESP2 reply at $pos of $$buf.  Returns ($value, $next_pos),
# or an empty list when the buffer does not hold a whole reply yet.
sub _parse {
    my ($buf, $pos) = @_;
    my $eol = index($$buf, "\r\n", $pos);
    return if $eol < 0;
    my $type = substr($$buf, $pos, 1);
    my $line = substr($$buf, $pos + 1, $eol - $pos - 1);
    my $next = $eol + 2;
    return ($line, $next) if $type eq '+';
    return (FaasTest::RedisError->new($line), $next) if $type eq '-';
    return ($line + 0, $next) if $type eq ':';
    if ($type eq '$') {
        return (undef, $next) if $line < 0;
        return if length($$buf) < $next + $line + 2;
        return (substr($$buf, $next, $line), $next + $line + 2);
    }
    if ($type eq '*') {
        return (undef, $next) if $line < 0;
        my @items;
        for (1 .. $line) {
            my @item = _parse($buf, $next) or return;
            push @items, $item[0];
            $next = $item[1];
        }
        return (\@items, $next);
    }
    die "redis protocol error: unexpected reply type '$type'\n";
}

package FaasTest::Subscription;

# A connection in subscribe mode (made by $t->redis_subscribe).
sub new {
    my ($class, $conn, $verb, @channels) = @_;
    my $self = bless { conn => $conn, channel => undef }, $class;
    $conn->send_command($verb, @channels);
    # One confirmation per channel: [subscribe, channel, count].
    for (@channels) {
        my @r = $conn->read_reply(10) or die "redis: no confirmation for $verb\n";
        die "redis error: " . $r[1]->message . "\n"
            if ref $r[1] && ref $r[1] ne 'ARRAY';
    }
    return $self;
}

# $sub->next_message($timeout_s): the payload of the next message, or
# undef if none came within $timeout_s (default 5).  ->channel then tells
# on which channel it came.  Dies if the connection broke.
sub next_message {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 5);
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        $left = 0 if $left < 0;
        my @r = $self->{conn}->read_reply($left) or return undef;
        my $msg = $r[1];
        next unless ref $msg eq 'ARRAY';
        if ($msg->[0] eq 'message') {
            $self->{channel} = $msg->[1];
            return $msg->[2];
        }
        if ($msg->[0] eq 'pmessage') {
            $self->{channel} = $msg->[2];
            return $msg->[3];
        }
    }
}

# The channel of the last message returned by next_message.
sub channel { $_[0]{channel} }

sub close { $_[0]{conn}->close }

sub DESTROY { $_[0]{conn}->close if $_[0]{conn} }

1;

__END__

=head1 NAME

FaasTest - test harness for nginx-faas: Redis, nginx, functions, HTTP

=head1 SYNOPSIS

    use strict; use warnings;
    use Test::More;
    use FindBin; use lib "$FindBin::Bin/lib";
    use FaasTest;

    my $t = FaasTest->new;
    $t->start_redis;
    my $fn = $t->start_fn(function => 'hello', revision => 'r1');
    $t->start_nginx(<<'EOF');
        faas_redis %%REDIS%%;
        server {
            listen 127.0.0.1:%%PORT%%;
            location / { faas_pass; }
        }
    EOF
    $t->publish_endpoint('hello', 'r1', 'id1', $fn->{addr});
    $t->wait_until(sub { $t->get('/hello')->{status} == 200 }, 5, 'hello routed');
    $t->log_clean_ok;
    done_testing;

(The faas_* directives above only illustrate; see the module's docs.)

=head1 DESCRIPTION

Each harness object owns a temporary prefix directory and every process
it starts (redis-server, nginx, function servers).  They are stopped by
pid, SIGTERM then SIGKILL after 5 s, when the object is destroyed or at
END, also when a test dies.  The prefix is then removed unless the
environment has C<FAAS_TEST_KEEP=1>.  When a test failed, the last lines
of error.log are printed.

=head2 Environment

=over

=item FAAS_TEST_KEEP=1

Keep the prefix directory (its path is printed with diag).

=item FAAS_ASAN=1

Load C<build/asan/ngx_http_faas_module.so>, run nginx with gcc's libasan
in C<LD_PRELOAD>, C<ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:log_path=PREFIX/asan>,
C<master_process off> and C<worker_processes 1>.  C<< $t->asan >> is then
true: tests needing reload or several workers skip.  C<log_clean_ok> also
fails on any ASan report.

=back

=head2 nginx configuration

C<start_nginx>, C<reload_nginx> and C<nginx_test_config> write a whole
nginx.conf: C<load_module> of the module (unless C<< module => 0 >>),
C<daemon off>, master process and workers, C<user root> when run as root,
pid and error log in the prefix, C<events { worker_connections 4096; }>,
then C<http { ... }> with every temp path in the prefix, an access log in
the prefix and the test's block.  Placeholders in the block:

    %%REDIS%%       127.0.0.1:<redis port>
    %%PORT%%        a free port for nginx's listen ($t->nginx_port)
    %%PORT2%%       a second free port ($t->nginx_port2)
    %%PREFIX%%      the prefix directory
    %%MODULE_DIR%%  <repo>/build
    %%FRONT%%       upstream "faas" (faas_balancer, keepalive 16) and a
                    server on %%PORT%% routing /function/ with faas_pass
                    and /faas/status with faas_status

Any other C<%%NAME%%> is an error.  The ports stay the same for the whole
life of the object (reloads, restarts).

=head2 Redis schema v1 (endpoints)

    HSET    <prefix>endpoints:FN:REV ID ADDR
    PUBLISH <prefix>ch:endpoints "up FN REV ID ADDR"
    HDEL    <prefix>endpoints:FN:REV ID
    PUBLISH <prefix>ch:endpoints "down FN REV ID"

with C<< <prefix> >> = C<faas:> unless C<< FaasTest->new(prefix => ...) >>.

=head1 METHODS

Construction: C<new(%opt)>, C<prefix>, C<repo>, C<build_dir>, C<asan>.

Redis: C<start_redis(%opt)>, C<redis_port>, C<stop_redis>,
C<restart_redis>, C<redis(@cmd)>, C<redis_subscribe(@channels)>,
C<redis_psubscribe(@patterns)>, C<publish_endpoint($fn,$rev,$id,$addr)>,
C<unpublish_endpoint($fn,$rev,$id)>, C<endpoints_key($fn,$rev)>,
C<endpoints_channel>.

nginx: C<start_nginx($block,%opt)>, C<nginx_test_config($block,%opt)>,
C<reload_nginx($block,%opt)>, C<stop_nginx>, C<nginx_port>,
C<nginx_port2>, C<nginx_pid>, C<worker_pids>, C<module_path>,
C<error_log>, C<log_clean_ok(allow =E<gt> [...])>, C<asan_reports>.

Functions: C<start_fn(%opt)>, C<stop_fn($fn)>, C<kill_fn($fn,$sig)>,
C<fn_running($fn)>, C<have_testfn>, C<testfn_path>,
C<start_refusing_port>.

HTTP: C<url($path)>, C<get($path,\%h)>, C<request($method,$path,$body,\%h)>,
C<get_many($path,$n,$concurrency,\%h)>.

Misc: C<wait_until($code,$timeout_s,$what)>.

Each method's comment in the source says what it takes and returns.

=cut

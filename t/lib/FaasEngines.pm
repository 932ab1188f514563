package FaasEngines;

# Private container engines for the tests of the docker runtime: a dockerd
# or a Podman Docker-compatible service of the test's own, in a temporary
# directory (storage, state, socket, logs), started and stopped by pid.
# Nothing is ever pulled: the test image is built locally, FROM scratch.
#
#   use FaasEngines;
#   if (my $why = FaasEngines::unavailable('dockerd')) { skip $why, N }
#   my $e = FaasEngines->start('dockerd');      # or 'podman'; dies on failure
#   $e->host;                                   # "unix:///tmp/.../docker.sock"
#   $e->build_testfn_image;                     # localhost/faas-testfn:test
#   my ($status, $json) = $e->api(GET => '/containers/json?all=true');
#   $e->stop;                                   # also done by DESTROY / END
#
# An engine whose packages are missing is skipped with the reason, except
# under CI (CI=true), where unavailable() says so and the caller fails.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken refaddr);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

our $API = '/v1.41';                       # what both engines accept
our $TESTFN_IMAGE = 'localhost/faas-testfn:test';

my $REPO = abs_path(dirname(abs_path(__FILE__)) . '/../..');
my $START_WAIT_S = 60;
my $STOP_WAIT_S  = 20;

my %LIVE;

# What each engine needs, and where.
my %NEEDS = (
    dockerd => {
        package => 'docker.io',
        bins    => [qw(/usr/sbin/dockerd /usr/bin/containerd /usr/bin/runc
                       /usr/bin/docker)],
    },
    podman => {
        package => 'podman',
        bins    => [qw(/usr/bin/podman /usr/bin/conmon /usr/sbin/runc)],
    },
);


# unavailable(ENGINE): undef when ENGINE can run here, else why not.
sub unavailable {
    my ($engine) = @_;
    my $need = $NEEDS{$engine} or return "unknown engine $engine";

    if ($> != 0) {
        return "$engine needs root";
    }

    for my $bin (@{ $need->{bins} }) {
        # runc is in /usr/sbin on Debian 12; accept either
        my @try = ($bin, map { "$_/" . (split m{/}, $bin)[-1] }
                   qw(/usr/bin /usr/sbin /usr/local/bin));
        next if grep { -x $_ } @try;
        return "$bin not installed (Debian package $need->{package}; "
             . "make deps installs it)";
    }

    return undef;
}


# in_ci(): true under CI, where a missing engine is a failure, not a skip.
sub in_ci { ($ENV{CI} // '') eq 'true' }


sub _which {
    my ($name) = @_;
    for my $dir (qw(/usr/sbin /usr/bin /sbin /bin /usr/local/sbin /usr/local/bin)) {
        return "$dir/$name" if -x "$dir/$name";
    }
    return $name;
}


# FaasEngines->start(ENGINE): starts a private 'dockerd' or 'podman'
# service and waits until it answers /_ping.  Dies with the end of its
# log if it does not.
sub start {
    my ($class, $engine) = @_;
    my $dir = tempdir('faas-eng-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $dir;

    my $self = bless {
        engine    => $engine,
        dir       => $dir,
        owner_pid => $$,
        pid       => undef,
        log       => "$dir/$engine.log",
    }, $class;

    $LIVE{refaddr $self} = $self;
    weaken($LIVE{refaddr $self});

    my (@cmd, %env);

    if ($engine eq 'dockerd') {
        $self->{socket} = "$dir/docker.sock";
        _write("$dir/daemon.json", "{}\n");
        @cmd = (_which('dockerd'),
                '--config-file', "$dir/daemon.json",
                '--data-root', "$dir/data",
                '--exec-root', "$dir/exec",
                '--pidfile', "$dir/dockerd.pid",
                '-H', "unix://$self->{socket}",
                # host networking only: leave the host's bridge and
                # iptables alone, so that several engines can run at once
                '--bridge', 'none', '--iptables=false', '--ip-masq=false',
                '--ip-forward=false',
                # its log then shows every API call (see api_calls)
                '--debug');

    } elsif ($engine eq 'podman') {
        $self->{socket} = "$dir/podman.sock";
        _write("$dir/containers.conf", <<"CONF");
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$dir/libpod-tmp"

[network]
network_config_dir = "$dir/net"
CONF
        %env = (CONTAINERS_CONF => "$dir/containers.conf");
        $self->{env} = \%env;
        # debug: its log then shows every API call (see api_calls)
        @cmd = (_which('podman'), '--log-level=debug', '--root', "$dir/root",
                '--runroot', "$dir/runroot", 'system', 'service', '--time=0',
                "unix://$self->{socket}");

    } else {
        die "unknown engine $engine";
    }

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        $ENV{$_} = $env{$_} for keys %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->{log} or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $self->{pid} = $pid;

    my $deadline = time + $START_WAIT_S;
    while (time < $deadline) {
        my ($st) = eval { $self->api(GET => '/_ping') };
        return $self if defined $st && $st == 200;
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = undef;
            die "$engine exited at start (status $?):\n" . $self->log_tail;
        }
        sleep 0.05;
    }

    my $tail = $self->log_tail;
    $self->stop;
    die "$engine did not answer /_ping within ${START_WAIT_S}s:\n$tail";
}


sub engine { $_[0]{engine} }
sub dir    { $_[0]{dir} }
sub socket_path { $_[0]{socket} }
sub host   { "unix://$_[0]{socket}" }
sub pid    { $_[0]{pid} }


sub log_tail {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return '';
    my @lines = <$fh>;
    return join '', @lines[($#lines > 30 ? $#lines - 30 : 0) .. $#lines];
}


# $e->api(METHOD, PATH, BODY): one request to the engine, PATH under the
# API version (but /_ping), BODY a reference to encode as JSON.  Returns
# (status, decoded JSON or raw body, raw body).  Dies if no answer comes.
sub api {
    my ($self, $method, $path, $body) = @_;
    my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM,
                                     Peer => $self->{socket})
        or die "connect $self->{socket}: $!";

    my $data = defined $body ? encode_json($body) : '';
    my $req = "$method $API$path HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n"
            . (defined $body ? "Content-Type: application/json\r\n" : '')
            . "Content-Length: " . length($data) . "\r\n\r\n$data";
    print {$sock} $req or die "write: $!";

    my $sel = IO::Select->new($sock);
    my $raw = '';
    my $deadline = time + 60;
    while (1) {
        my $left = $deadline - time;
        die "$method $path: no answer within 60s\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($sock, $raw, 65536, length $raw);
        die "read: $!" unless defined $n;
        last if $n == 0;
    }
    close $sock;

    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    die "$method $path: bad answer: $raw" unless defined $rest;
    my ($status) = $head =~ m{^HTTP/1\.[01] (\d{3})}
        or die "$method $path: bad status line: $head";

    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        my $out = '';
        while ($rest =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($rest, 0, $len, '');
            $rest =~ s/^\r\n//;
        }
        $rest = $out;
    }

    my $decoded = eval { JSON::PP->new->allow_nonref->decode($rest) };
    return ($status, $decoded // $rest, $rest);
}


# Every API call the engine logged, as "METHOD /path?query", in order.
sub api_calls {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return;
    my @calls;
    while (my $line = <$fh>) {
        if ($self->{engine} eq 'dockerd') {
            push @calls, "$1 $2" if $line =~ /msg="Calling (\w+) (\S+)"/;
        } else {
            push @calls, "$1 $2" if $line =~ /"(\w+) (\S+) HTTP\/1\.[01]" \d{3}/;
        }
    }
    return @calls;
}


# The RepoTags of every image the engine has, sorted.
sub image_tags {
    my ($self) = @_;
    my ($st, $images) = $self->api(GET => '/images/json');
    die "images/json: HTTP $st" unless $st == 200;
    return sort map { @{ $_->{RepoTags} // [] } } @$images;
}


# Builds t/fn/Dockerfile with build/faas-testfn into $TESTFN_IMAGE with
# the engine's own client talking to this engine's socket.  Returns the
# seconds it took; dies with the client's output on failure.
sub build_testfn_image {
    my ($self) = @_;
    my $bin = "$REPO/build/faas-testfn";
    die "$bin is not built (make build/faas-testfn)\n" unless -x $bin;

    # a context of just the two files: fast, and nothing else is sent
    my $ctx = "$self->{dir}/testfn-context";
    mkdir $ctx;
    copy("$REPO/t/fn/Dockerfile", "$ctx/Dockerfile") or die "copy: $!";
    copy($bin, "$ctx/faas-testfn") or die "copy: $!";
    chmod 0755, "$ctx/faas-testfn";

    my @cmd;
    my %env = (PATH => '/usr/sbin:/usr/bin:/sbin:/bin');
    if ($self->{engine} eq 'dockerd') {
        # the docker.io client (the classic builder: no BuildKit needed)
        @cmd = ('/usr/bin/docker', '-H', $self->host, 'build', '-q',
                '-t', $TESTFN_IMAGE, $ctx);
        %env = (%env, DOCKER_BUILDKIT => '0',
                DOCKER_CONFIG => "$self->{dir}/docker-cli");
    } else {
        @cmd = (_which('podman'), '--remote', '--url', $self->host, 'build',
                '-q', '--pull=never', '-t', $TESTFN_IMAGE, $ctx);
        %env = (%env, %{ $self->{env} });
    }

    my $t0 = time;
    my $out = _capture(\%env, @cmd);
    my $took = time - $t0;
    die "@cmd failed (status $?):\n$out" if $?;
    return $took;
}


sub _capture {
    my ($env, @cmd) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        $ENV{$_} = $env->{$_} for keys %$env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $w;
        open STDERR, '>&', $w;
        exec @cmd or POSIX::_exit(127);
    }
    close $w;
    local $/;
    my $out = <$r> // '';
    close $r;
    waitpid($pid, 0);
    return $out;
}


sub _write {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print {$fh} $text;
    close $fh or die "$path: $!";
}


# $e->containers(LABEL => VALUE, ...): the engine's containers, running
# or not, that carry all those labels (every container without any), as
# GET /containers/json gives them (Id, Names, State, Labels, ...).  The
# labels are matched by the engine (a "label" filter), as the docker
# runtime's list() does.  Dies if the engine does not answer 200.
sub containers {
    my ($self, %label) = @_;
    my $path = '/containers/json?all=true';
    if (%label) {
        my $f = encode_json({ label => [ map { "$_=$label{$_}" }
                                         sort keys %label ] });
        $f =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;
        $path .= "&filters=$f";
    }
    my ($st, $list) = $self->api(GET => $path);
    die "GET $path: HTTP $st\n" unless $st == 200 && ref $list eq 'ARRAY';
    return @$list;
}


# $e->api_calls_matching(QR): how many API calls logged so far match QR
# (see api_calls); take it before and after a window to count the calls
# made in between.
sub api_calls_matching {
    my ($self, $re) = @_;
    return scalar grep { $_ =~ $re } $self->api_calls;
}


# Removes every container of this (private) engine, by force.
sub remove_containers {
    my ($self) = @_;
    my ($st, $list) = eval { $self->api(GET => '/containers/json?all=true') };
    return unless defined $st && $st == 200 && ref $list eq 'ARRAY';
    for my $c (@$list) {
        eval { $self->api(DELETE => "/containers/$c->{Id}?force=true&v=true") };
    }
}


# Stops the engine: its containers first, then SIGTERM, SIGKILL after
# $STOP_WAIT_S; unmounts what it left under its directory, removes that.
sub stop {
    my ($self) = @_;
    return if $self->{stopped}++ || $self->{owner_pid} != $$;

    if (defined $self->{pid}) {
        $self->remove_containers;
        _stop_pid($self->{pid});
        $self->{pid} = undef;

        # a dockerd that had to be killed leaves its containerd behind
        my $cpid = _slurp("$self->{dir}/exec/containerd/containerd.pid");
        if (defined $cpid && $cpid =~ /^(\d+)\s*$/ && _is_ours($1, $self->{dir})) {
            kill 'KILL', $1;
        }
    }

    # dockerd leaves its netns mount, podman its storage's
    my @mounts;
    if (open my $fh, '<', '/proc/self/mounts') {
        while (<$fh>) {
            my (undef, $at) = split ' ';
            $at =~ s/\\040/ /g;
            push @mounts, $at if index($at, "$self->{dir}/") == 0;
        }
    }
    for my $m (sort { length $b <=> length $a } @mounts) {
        system('umount', '-l', $m);
    }

    if (($ENV{FAAS_TEST_KEEP} // '') eq '1') {
        Test::More::diag("kept $self->{engine} directory $self->{dir}")
            if $INC{'Test/More.pm'};
    } else {
        remove_tree($self->{dir}, { safe => 1 });
    }
}


sub _slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    return scalar <$fh>;
}


# Is pid a process whose command line mentions our directory?
sub _is_ours {
    my ($pid, $dir) = @_;
    my $cmd = _slurp("/proc/$pid/cmdline") // return 0;
    return index($cmd, $dir) >= 0;
}


sub _stop_pid {
    my ($pid) = @_;
    kill 'TERM', $pid;
    my $deadline = time + $STOP_WAIT_S;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}


sub DESTROY {
    my ($self) = @_;
    local ($?, $@, $!);
    $self->stop;
}


END {
    local $?;
    for my $e (grep { defined } values %LIVE) {
        $e->stop;
    }
}


# ---------------------------------------------------------------------------
# FaasEngines::Driver: build/runtime-driver (t/tools/runtime_driver.c) in
# its stdin mode, a stand-in for the controller that keeps the replicas it
# starts as its children.
#
#   my $d = FaasEngines::Driver->new('process', $state_dir, %env);
#   my $r = $d->cmd(start => 'fn', 'rev', 'id', $port, $exec, $log, @env);
#   $d->finish;                     # ends it (the replicas live on)
#
# It runs in a process group of its own, with %env added to the test's.
# FaasEngines::Driver::once(RUNTIME, WHERE, CMD...) runs one command in a
# new driver process (a restarted controller) and returns its answer.
# ---------------------------------------------------------------------------

package FaasEngines::Driver;

use JSON::PP;
use POSIX qw(WNOHANG);

sub path { "$REPO/build/runtime-driver" }

sub new {
    my ($class, $runtime, $where, %env) = @_;
    my $bin = path();
    die "$bin is not built\n" unless -x $bin;

    pipe(my $cr, my $pw) or die "pipe: $!";    # parent writes, child reads
    pipe(my $pr, my $cw) or die "pipe: $!";    # child writes, parent reads
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        close $pw;
        close $pr;
        $ENV{$_} = $env{$_} for keys %env;
        open STDIN, '<&', $cr or POSIX::_exit(127);
        open STDOUT, '>&', $cw or POSIX::_exit(127);
        exec $bin, $runtime, $where or POSIX::_exit(127);
    }
    close $cr;
    close $cw;
    my $old = select $pw;
    $| = 1;
    select $old;

    return bless { pid => $pid, in => $pw, out => $pr, owner => $$ }, $class;
}

sub pid { $_[0]{pid} }

# cmd(WORD, ...): one command; returns the decoded answer.  An argument
# that is an array reference is a nested command (for "parallel").
sub cmd {
    my ($self, @cmd) = @_;
    print { $self->{in} } encode_json(_strings(\@cmd)) . "\n"
        or die "driver: write: $!";
    my $line = readline $self->{out};
    die "driver exited\n" unless defined $line;
    return decode_json($line);
}

# every word a JSON string, in nested commands too
sub _strings {
    my ($cmd) = @_;
    return [ map { ref $_ ? _strings($_) : "$_" } @$cmd ];
}

sub finish {
    my ($self) = @_;
    return unless defined $self->{pid} && $self->{owner} == $$;
    close $self->{in};
    close $self->{out};
    for (1 .. 200) {
        last if waitpid($self->{pid}, WNOHANG) == $self->{pid};
        select undef, undef, undef, 0.05;
    }
    if (kill 0, $self->{pid}) {
        kill 'KILL', $self->{pid};
        waitpid($self->{pid}, 0);
    }
    $self->{pid} = undef;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@, $!);
    $self->finish;
}

sub once {
    my ($runtime, $where, @cmd) = @_;
    my $bin = path();
    die "$bin is not built\n" unless -x $bin;
    open my $fh, '-|', $bin, $runtime, $where, @cmd or die "$bin: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    return decode_json($out);
}


1;

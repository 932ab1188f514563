package FaasController;

# Runs build/faas-controller for the tests, beside a FaasTest harness:
# its state directory, replica logs and its own log live in the harness's
# temporary prefix, its replicas get ports from a range of their own, and
# everything it started is stopped at the end (the controller leaves its
# replicas running when it exits, by design, so this module stops them).
#
#   my $c = FaasController->new($t);           # $t: a FaasTest
#   $c->start;                                 # waits for "started"
#   $c->replica_pids;                          # pids of its replicas
#   $c->kill('KILL'); $c->start;               # crash and adoption
#   $c->log_clean_ok(allow => [qr/.../]);      # no [error], no ASan report
#   $c->desired('fn', 'v1');                   # its desired hash
#   $c->count('fn', 'v1');                     # replica processes of fn/v1
#   $c->watch($t, 2.5, 'fn', 'v1');            # min/max of processes and
#                                              # endpoints over 2.5 s
#   my $load = FaasController::Load->start($t, $path, clients => 8,
#                                          seconds => 5);   # sustained load
#   $load->wait;                               # { status => count }
#
# With FAAS_ASAN=1 it runs build/asan/faas-controller with ASAN_OPTIONS
# detect_leaks=1 and log_path=<prefix>/asan-controller, and log_clean_ok
# fails on any report.

use strict;
use warnings;

use Carp qw(croak);
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(time sleep);

my $START_WAIT_S = 15;
my $STOP_WAIT_S  = 10;

my %LIVE;    # every object, to stop what it started at END

# FaasController->new($t, %opt): not started yet.  Options: runtime
# ('process'), port_range ('LO-HI', default a free block of 40 ports
# between 30000 and 32700, which FaasTest never hands out), args => [...]
# more flags, env => {...} more environment.
sub new {
    my ($class, $t, %opt) = @_;
    my $lo = $opt{port_range} ? undef : 30000 + 40 * int(rand(67));
    my $self = bless {
        t          => $t,
        runtime    => $opt{runtime} // 'process',
        port_range => $opt{port_range} // "$lo-" . ($lo + 39),
        args       => $opt{args} || [],
        env        => $opt{env} || {},
        state_dir  => $t->prefix . '/controller-state',
        log        => $t->prefix . '/controller.log',
        pid        => undef,
        owner      => $$,
    }, $class;
    $LIVE{"$self"} = $self;
    return $self;
}

sub pid       { $_[0]{pid} }
sub log_path  { $_[0]{log} }
sub state_dir { $_[0]{state_dir} }
sub log_dir   { $_[0]{state_dir} . '/logs' }

sub binary {
    my ($self) = @_;
    return ref($self)->binary_of($self->{t});
}

# FaasController->binary_of($t): the binary a controller of harness $t
# runs (the ASan build under FAAS_ASAN=1), without making an object.
sub binary_of {
    my ($class, $t) = @_;
    return $t->build_dir . ($t->asan ? '/asan/faas-controller' : '/faas-controller');
}

# The command line of a run, for tests that check flags.
sub command {
    my ($self, @extra) = @_;
    return ($self->binary, '--redis', '127.0.0.1:' . $self->{t}->redis_port,
            '--runtime', $self->{runtime}, '--state-dir', $self->{state_dir},
            '--port-range', $self->{port_range}, @{ $self->{args} }, @extra);
}

sub _env {
    my ($self) = @_;
    my %env = %{ $self->{env} };
    if ($self->{t}->asan) {
        $env{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0:log_path='
            . $self->{t}->prefix . '/asan-controller';
        $env{UBSAN_OPTIONS} = 'print_stacktrace=1:log_path='
            . $self->{t}->prefix . '/asan-controller-ubsan';
    }
    return \%env;
}

# $c->start(@extra_flags): runs the controller (its output appended to
# controller.log) and waits until it logs "faas-controller started".
# Dies with the log if it exits or does not get there.  Returns the pid.
sub start {
    my ($self, @extra) = @_;
    croak "controller already running" if $self->{pid};
    croak $self->binary . " is not built (make)" unless -x $self->binary;
    my $offset = -s $self->{log} // 0;
    my @cmd = $self->command(@extra);
    my $env = $self->_env;
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE CHLD);
        $ENV{$_} = $env->{$_} for keys %$env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->{log} or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $deadline = time + $START_WAIT_S;
    while (time < $deadline) {
        return $pid if substr($self->log, $offset) =~ /faas-controller started/;
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = undef;
            die "faas-controller exited at start (status " . ($? >> 8) . "):\n"
                . substr($self->log, $offset);
        }
        sleep 0.01;
    }
    die "faas-controller did not start within ${START_WAIT_S}s:\n" . substr($self->log, $offset);
}

# $c->run(@flags): runs the binary to its end with those flags (no
# defaults added) and %env; returns ($exit_code, $output).
sub run {
    my ($self, $env, @flags) = @_;
    my $out = $self->{t}->prefix . '/controller-run.out';
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        my $e = { %{ $self->_env }, %{ $env || {} } };
        $ENV{$_} = $e->{$_} for keys %$e;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec { $self->binary } $self->binary, @flags or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $code = $? >> 8;
    open(my $fh, '<', $out) or return ($code, '');
    local $/;
    return ($code, scalar(<$fh>) // '');
}

# $c->kill($signal): sends it (default KILL) and waits until the
# controller is gone.  The replicas keep running.
sub kill {
    my ($self, $signal) = @_;
    my $pid = $self->{pid} or return;
    CORE::kill($signal // 'KILL', $pid);
    my $deadline = time + $STOP_WAIT_S;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = undef;
            $self->{exit_status} = $?;
            return;
        }
        sleep 0.01;
    }
    CORE::kill('KILL', $pid);
    waitpid($pid, 0);
    $self->{pid} = undef;
    Test::More::diag("faas-controller ($pid) ignored SIG" . ($signal // 'KILL') . ": killed");
}

# $c->stop: SIGTERM (a clean exit: ASan checks leaks then), waits.
sub stop { $_[0]->kill('TERM') }

# The exit status ($?) of the last stop or kill.
sub exit_status { $_[0]{exit_status} }

# $c->replica_pids: { pid => replica id } of the live processes whose
# standard output goes to a log in this controller's log directory (the
# process runtime appends replica output there).
sub replica_pids {
    my ($self) = @_;
    my $dir = $self->log_dir . '/';
    my %pids;
    opendir(my $dh, '/proc') or return {};
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $target = readlink("/proc/$pid/fd/1") // next;
        next unless index($target, $dir) == 0;
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $stat = <$fh> // '';
        next if $stat =~ /\)\s+Z\s/;    # a zombie has ended
        my ($id) = $target =~ m{/([^/]+)\.log};
        $pids{$pid} = $id // '?';
    }
    closedir $dh;
    return \%pids;
}

# $c->stop_replicas: SIGTERM, then SIGKILL, to every replica pid.
sub stop_replicas {
    my ($self) = @_;
    my $pids = $self->replica_pids;
    return unless %$pids;
    CORE::kill('TERM', keys %$pids);
    my $deadline = time + 5;
    while (time < $deadline && %{ $self->replica_pids }) {
        sleep 0.02;
    }
    my $left = $self->replica_pids;
    CORE::kill('KILL', keys %$left) if %$left;
}

# Redis views of the controller's keys.
sub status {
    my ($self, $fn, $rev) = @_;
    return { @{ $self->{t}->redis('HGETALL', "faas:status:$fn:$rev") || [] } };
}

sub replicas {
    my ($self, $fn, $rev) = @_;
    my %raw = @{ $self->{t}->redis('HGETALL', "faas:replicas:$fn:$rev") || [] };
    return { map { $_ => JSON::PP::decode_json($raw{$_}) } keys %raw };
}

sub endpoints {
    my ($self, $fn, $rev) = @_;
    return { @{ $self->{t}->redis('HGETALL', "faas:endpoints:$fn:$rev") || [] } };
}

# $c->desired($fn, $rev): the <prefix>desired:FN:REV hash (replicas,
# reason, at_ms, by), {} when there is none.
sub desired {
    my ($self, $fn, $rev) = @_;
    return { @{ $self->{t}->redis('HGETALL', "faas:desired:$fn:$rev") || [] } };
}

# $c->count($fn, $rev): how many replica processes of FN/REV run now
# (replica ids are "<fn>-<rev>-<hex>").
sub count {
    my ($self, $fn, $rev) = @_;
    my $prefix = "$fn-$rev-";
    return scalar grep { index($_, $prefix) == 0 } values %{ $self->replica_pids };
}

# $c->watch($t, $seconds, $fn, $rev): samples every 20 ms for that long
# the replica processes of FN/REV and its endpoints in Redis; returns
# { procs_max, procs_min, endpoints_max, endpoints_min, samples } (the
# Redis figures leave out samples taken while Redis did not answer).
sub watch {
    my ($self, $t, $seconds, $fn, $rev) = @_;
    my %w = (samples => 0);
    my $deadline = time + $seconds;
    while (time < $deadline) {
        my $procs = $self->count($fn, $rev);
        my $eps = eval { scalar keys %{ $self->endpoints($fn, $rev) } };
        for ([ procs => $procs ], [ endpoints => $eps ]) {
            my ($name, $v) = @$_;
            next unless defined $v;
            $w{"${name}_max"} = $v if !defined $w{"${name}_max"} || $v > $w{"${name}_max"};
            $w{"${name}_min"} = $v if !defined $w{"${name}_min"} || $v < $w{"${name}_min"};
        }
        $w{samples}++;
        sleep 0.02;
    }
    return \%w;
}

sub log {
    my ($self) = @_;
    open(my $fh, '<', $self->{log}) or return '';
    local $/;
    return scalar(<$fh>) // '';
}

# The text of the controller's ASan/UBSan reports, '' when clean.
sub asan_reports {
    my ($self) = @_;
    my $text = '';
    for my $file (sort glob($self->{t}->prefix . '/asan-controller*')) {
        open(my $fh, '<', $file) or next;
        local $/;
        $text .= "=== $file\n" . (<$fh> // '');
    }
    return $text;
}

# $c->log_clean_ok(allow => [qr/.../, ...]): one assertion that the
# controller's log has no [error] line but those allowed, and under ASan
# that no report was written.  Stop the controller first for the leak
# check to have run.
sub log_clean_ok {
    my ($self, %opt) = @_;
    my @allow = @{ $opt{allow} || [] };
    my @bad = grep {
        my $line = $_;
        $line =~ /\[error\]|AddressSanitizer|runtime error/ && !grep { $line =~ $_ } @allow
    } split /\n/, $self->log;
    my $asan = $self->{t}->asan ? $self->asan_reports : '';
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::ok(!@bad && $asan eq '', $opt{name} // 'controller log is clean');
    Test::More::diag(join "\n", "unexpected controller log lines:", @bad) if @bad;
    Test::More::diag("sanitizer reports:\n$asan") if $asan ne '';
    return $ok;
}

# Stops the controller (TERM) and its replicas.  Idempotent.
sub cleanup {
    my ($self) = @_;
    return if $self->{cleaned} || $self->{owner} != $$;
    $self->{cleaned} = 1;
    local ($?, $!, $@);
    $self->stop if $self->{pid};
    $self->stop_replicas;
    delete $LIVE{"$self"};
}

sub DESTROY { $_[0]->cleanup }

END {
    $_->cleanup for values %LIVE;
}


# Sustained load for the scaling tests: clients that each send one GET
# after another (a new connection each, HTTP::Tiny) to a FaasTest's nginx
# until their time is up, so that the concurrency nginx sees is the number
# of clients (with ?sleep_ms=N to hold each request on the replica).
#
#   my $load = FaasController::Load->start($t, '/function/f/x?sleep_ms=300',
#                                          clients => 8, seconds => 5);
#   ... sample while it runs ...
#   my $statuses = $load->wait;          # { 200 => 93, ... }
package FaasController::Load;

use POSIX ();
use Time::HiRes qw(time sleep);

my %LOADS;

sub start {
    my ($class, $t, $path, %opt) = @_;
    my $clients = $opt{clients} // 4;
    my $seconds = $opt{seconds} // 5;
    my $self = bless { pids => [], files => [], owner => $$ }, $class;
    for my $i (1 .. $clients) {
        my $file = $t->prefix . "/load-$$-" . int(rand(1e9)) . "-$i";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my %status;
            my $deadline = time + $seconds;
            while (time < $deadline) {
                my $res = eval { $t->get($path) } || { status => 599 };
                $status{ $res->{status} }++;
            }
            if (open(my $fh, '>', $file)) {
                print $fh map { "$_ $status{$_}\n" } sort keys %status;
                close $fh;
            }
            POSIX::_exit(0);
        }
        push @{ $self->{pids} }, $pid;
        push @{ $self->{files} }, $file;
    }
    $LOADS{"$self"} = $self;
    return $self;
}

# Waits for every client; returns { status => count } over all of them.
sub wait {
    my ($self) = @_;
    waitpid($_, 0) for @{ $self->{pids} };
    $self->{pids} = [];
    delete $LOADS{"$self"};
    my %total;
    for my $file (@{ $self->{files} }) {
        open(my $fh, '<', $file) or next;
        while (<$fh>) {
            my ($status, $n) = split;
            $total{$status} += $n;
        }
        close $fh;
        unlink $file;
    }
    return \%total;
}

# Stops the clients at once (SIGKILL), for a test that ends early.
sub kill {
    my ($self) = @_;
    CORE::kill('KILL', @{ $self->{pids} }) if @{ $self->{pids} };
    return $self->wait;
}

END {
    for my $load (values %LOADS) {
        $load->kill if $load->{owner} == $$;
    }
}

1;

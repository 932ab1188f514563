#!/usr/bin/perl
# faas-controller's command line: --help, one-line errors and exit codes
# for bad flags, an unreachable or refusing Redis and an unusable runtime;
# FAAS_* variables and flags winning over them; Redis AUTH with an ACL
# user.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use FaasController;

my $t = FaasTest->new;

my $TESTFN = $t->testfn_path;
my $c = FaasController->new($t);

# --- without Redis ------------------------------------------------------------

my ($code, $out) = $c->run({}, '--help');
is($code, 0, '--help exits 0');
for my $flag (qw(--redis --runtime --docker-host --port-range --state-dir
                 --redis-password --redis-user --redis-db --prefix --log-dir
                 --log-level --start-timeout --drain-timeout --stop-grace)) {
    like($out, qr/^\s+\Q$flag\E /m, "--help lists $flag");
}
like($out, qr/FAAS_REDIS_PASSWORD/, '--help names the variables');

($code, $out) = $c->run({}, '--bogus');
is($code, 2, 'an unknown flag exits 2');
is($out, "faas-controller: unknown option \"--bogus\" (see --help)\n", 'with one line');

($code, $out) = $c->run({}, '--port-range', '9-3');
is($code, 2, 'a bad value exits 2');
like($out, qr/^faas-controller: --port-range "9-3": [^\n]*\n\z/, 'one line quoting it');

($code, $out) = $c->run({ FAAS_START_TIMEOUT => 'never' });
is($code, 2, 'a bad variable exits 2');
like($out, qr/^faas-controller: [^\n]*"never"[^\n]*\(from FAAS_START_TIMEOUT\)\n\z/,
     'one line naming the variable');

my $dead = $t->start_refusing_port;
($code, $out) = $c->run({}, '--redis', "127.0.0.1:$dead", '--state-dir', $t->prefix . '/s1');
is($code, 1, 'an unreachable Redis at start exits 1');
like($out, qr/^faas-controller: cannot use Redis at 127\.0\.0\.1:$dead: [^\n]+\n\z/,
     "one line: " . ($out =~ s/\n\z//r));

# --- with Redis (password, ACL user) ------------------------------------------

$t->start_redis(password => 'adminpw');
$t->redis('ACL', 'SETUSER', 'ctl', 'on', '>ctlpw', '~faas:*', '&faas:ch:*',
          '+get', '+set', '+hgetall', '+hmget', '+hset', '+hdel', '+hkeys', '+del',
          '+zrange', '+zrangebyscore', '+zrem', '+scan', '+multi', '+exec',
          '+discard', '+watch', '+unwatch', '+publish', '+subscribe', '+ping',
          '+auth', '+select');

($code, $out) = $c->run({}, '--redis', '127.0.0.1:' . $t->redis_port,
                        '--redis-user', 'ctl', '--redis-password', 'wrong',
                        '--state-dir', $t->prefix . '/s2');
is($code, 1, 'a refused AUTH exits 1');
like($out, qr/^faas-controller: cannot use Redis at [^:]+:\d+: AUTH: [^\n]+\n\z/,
     "one line: " . ($out =~ s/\n\z//r));

($code, $out) = $c->run({}, '--redis', '127.0.0.1:' . $t->redis_port,
                        '--redis-password', 'adminpw', '--runtime', 'docker',
                        '--docker-host', 'unix://' . $t->prefix . '/no-docker.sock',
                        '--state-dir', $t->prefix . '/s3');
is($code, 1, '--runtime docker without an engine exits 1');
like($out, qr/^faas-controller: [^\n]*no-docker\.sock[^\n]*\n\z/,
     "one line naming the socket: " . ($out =~ s/\n\z//r));

$t->start_nginx(<<"END");
faas_zone  faas 1m;
faas_redis %%REDIS%% password=adminpw;

faas_function acl {
    revision v1 "exec=$TESTFN";
    scale min=1;
}
END

# everything from the environment but the user, given by a flag
$c = FaasController->new($t, args => [ '--redis-user', 'ctl', '--log-level', 'info' ],
                         env => { FAAS_REDIS_USER => 'nobody', FAAS_REDIS_PASSWORD => 'ctlpw',
                                  FAAS_LOG_LEVEL => 'debug', FAAS_STOP_GRACE => '2s' });
$c->start;
$t->wait_until(sub { keys %{ $c->endpoints('acl', 'v1') } == 1 }, 10,
               'runs with the ACL documented in docs/controller.md');
unlike($c->log, qr/\[debug\]/, '--log-level info wins over FAAS_LOG_LEVEL=debug');
$t->wait_until(sub { ($c->status('acl', 'v1')->{state} // '') eq 'ok' }, 5, 'status written');

$c->stop;
$t->stop_nginx;
$c->log_clean_ok;
$t->log_clean_ok;

done_testing;

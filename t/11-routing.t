#!/usr/bin/perl
# Routing: which function and revision a request reaches, the path the
# function sees, the JSON errors of requests that cannot be routed, and a
# request that waits in the queue keeping its route (revision, path).

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;
use JSON::PP;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

my $t = FaasTest->new;

$t->start_redis;

my %fn = (
    hello_v1  => $t->start_fn(function => 'hello',  revision => 'v1'),
    hello_v2  => $t->start_fn(function => 'hello',  revision => 'v2'),
    solo      => $t->start_fn(function => 'solo',   revision => 'v1'),
    canary_s  => $t->start_fn(function => 'canary', revision => 'stable'),
    canary_n  => $t->start_fn(function => 'canary', revision => 'next'),
);

my $PROXY = 'proxy_pass http://faas; proxy_http_version 1.1; proxy_set_header Connection "";';

$t->start_nginx(<<"EOF");
    faas_zone  faas 1m;
    faas_redis %%REDIS%%;

    faas_function hello {
        revision v1 "exec=/bin/true" weight=90;
        revision v2 "exec=/bin/true" weight=10;
    }
    faas_function solo {
        revision v1 "exec=/bin/true";
    }
    faas_function canary {
        revision stable "exec=/bin/true" weight=100;
        revision next   "exec=/bin/true" weight=0;
    }
    faas_function empty {
        revision v1 "exec=/bin/true";
        queue size=0;
    }
    faas_function pin {
        revision v1 "exec=/bin/true" weight=100;
        revision v2 "exec=/bin/true" weight=0;
        queue size=10 timeout=8s;
    }

    upstream faas {
        faas_balancer;
        keepalive 16;
    }

    map \$http_x_fn \$fn_name {
        default solo;
        h       hello;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /function/ {
            faas_pass;
            faas_revision_header on;
            $PROXY
        }
        location /nopin/ {
            faas_pass;
            $PROXY
        }
        location /fixed/ {
            faas_pass solo;
            $PROXY
        }
        location /byheader/ {
            faas_pass \$fn_name;
            $PROXY
        }
        location /byarg/ {
            faas_pass \$arg_fn;
            $PROXY
        }
        location /sticky/ {
            faas_pass hello;
            faas_sticky \$arg_user;
            $PROXY
        }
        location = /faas/status { faas_status; }
    }
EOF

$t->publish_endpoint('hello',  'v1',     'h1', $fn{hello_v1}{addr});
$t->publish_endpoint('hello',  'v2',     'h2', $fn{hello_v2}{addr});
$t->publish_endpoint('solo',   'v1',     's1', $fn{solo}{addr});
$t->publish_endpoint('canary', 'stable', 'c1', $fn{canary_s}{addr});
$t->publish_endpoint('canary', 'next',   'c2', $fn{canary_n}{addr});

# Every published replica answers (pinned, so that each revision is tried).
for my $pin ([ 'hello', 'v1' ], [ 'hello', 'v2' ], [ 'solo', 'v1' ],
             [ 'canary', 'stable' ], [ 'canary', 'next' ]) {
    my ($f, $rev) = @$pin;
    $t->wait_until(sub {
        my $r = $t->get("/function/$f/", { 'X-Faas-Revision' => $rev });
        $r->{status} == 200 && $r->{headers}{'x-testfn-revision'} eq $rev;
    }, 5, "replica of $f/$rev published and routed");
}

# --- path stripping --------------------------------------------------------

{
    my $r = $t->get('/function/solo/a/b?x=1&y=two');
    is($r->{status}, 200, '/function/solo/a/b?x=1&y=two answers 200');
    is($r->{json}{function}, 'solo', '... from function solo');
    is($r->{json}{path}, '/a/b', '... which sees the path without /function/solo');
    is($r->{json}{query}, 'x=1&y=two', '... and the query string unchanged');

    $r = $t->get('/function/solo');
    is($r->{status}, 200, '/function/solo answers 200');
    is($r->{json}{path}, '/', '/function/solo reaches the function as /');

    $r = $t->get('/function/solo/');
    is($r->{json}{path}, '/', '/function/solo/ reaches the function as /');

    $r = $t->get('/function/solo?q=1');
    is($r->{json}{path}, '/', '/function/solo?q=1 reaches the function as /');
    is($r->{json}{query}, 'q=1', '... with its query');

    $r = $t->get('/function/solo/deep/er/path/');
    is($r->{json}{path}, '/deep/er/path/', 'a trailing slash is kept');

    $r = $t->get('/function/solo/a%20b');
    is($r->{json}{path}, '/a%20b', 'an escaped space in the rest of the path reaches the function escaped');
}

# --- request bodies ---------------------------------------------------------

{
    my $r = $t->request('POST', '/function/solo/upload', 'hello', { 'Content-Type' => 'text/plain' });
    is($r->{status}, 200, 'POST through faas_pass answers 200');
    is($r->{json}{method}, 'POST', '... reaching the function as a POST');
    is($r->{json}{body_len}, 5, '... with its body');
    is($r->{json}{body_fnv1a}, 'a430d84680aabd0b', '... intact (FNV-1a of "hello")');

    my $big = join '', map { chr(32 + $_ % 90) } 1 .. 300_000;
    $r = $t->request('POST', '/function/solo/upload', $big);
    is($r->{json}{body_len}, length $big, 'a 300 kB body reaches the function whole');
}

# A POST with a body to an unknown function, then a GET on the same
# connection: the error answer must consume the body.
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->nginx_port, Timeout => 5)
        or die "connect: $!";
    my $body = 'x' x 5000;
    print $s "POST /function/nope/ HTTP/1.1\r\nHost: a\r\nContent-Length: " . length($body)
        . "\r\n\r\n$body" . "GET /function/solo/again HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my $raw = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + 5;
    while (time < $deadline && $sel->can_read($deadline - time)) {
        last unless sysread($s, $raw, 65536, length $raw);
    }
    close $s;
    my @statuses = $raw =~ m{^HTTP/1\.1 (\d{3})}mg;
    is_deeply(\@statuses, [ 404, 200 ],
              'a POST with a body to an unknown function (404) leaves the connection usable: next request 200');
    like($raw, qr{"path":"/again"}, '... and the second request reached the function');
}

# --- faas_pass NAME and faas_pass $variable --------------------------------

{
    my $r = $t->get('/fixed/some/path?k=v');
    is($r->{status}, 200, 'faas_pass NAME answers 200');
    is($r->{json}{function}, 'solo', 'faas_pass solo routes to function solo');
    is($r->{json}{path}, '/fixed/some/path', 'faas_pass NAME passes the path unchanged');
    is($r->{json}{query}, 'k=v', 'faas_pass NAME passes the query unchanged');

    $r = $t->get('/byheader/x/y', { 'X-Fn' => 'h', 'X-Faas-Revision' => 'v2' });
    is($r->{status}, 200, 'faas_pass $map_var answers 200');
    is($r->{json}{function}, 'hello', 'faas_pass $fn_name routes by the mapped header value');
    is($r->{json}{path}, '/byheader/x/y', 'faas_pass $variable passes the path unchanged');

    $r = $t->get('/byheader/z');
    is($r->{json}{function}, 'solo', 'faas_pass $fn_name routes to the map default');

    $r = $t->get('/byarg/p?fn=solo');
    is($r->{json}{function}, 'solo', 'faas_pass $arg_fn routes by the query argument');
    is($r->{json}{path}, '/byarg/p', 'faas_pass $arg_fn passes the path unchanged');
    is($r->{json}{query}, 'fn=solo', '... with the query unchanged');

    $r = $t->get('/byarg/p?fn=nope');
    is($r->{status}, 404, 'faas_pass $arg_fn with an unknown function: 404');
    is_deeply($r->{json}, { error => 'unknown function', function => 'nope' },
              '... with the unknown-function JSON');

    $r = $t->get('/byarg/p');
    is($r->{status}, 400, 'faas_pass $arg_fn with an empty value: 400');
    is($r->{headers}{'content-type'}, 'application/json', '... as application/json');
}

# --- 400 and 404 JSON ------------------------------------------------------

sub json_error_ok {
    my ($path, $status, $expect, $what) = @_;
    my $r = $t->get($path);
    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json\b}, "$what: Content-Type application/json");
    my $json = eval { JSON::PP->new->decode($r->{content}) };
    is_deeply($json, $expect, "$what: JSON body") or diag $r->{content};
}

json_error_ok('/function/Hello/', 400, { error => 'invalid function name', function => 'Hello' },
              'uppercase function name');
json_error_ok('/function/a_b/x', 400, { error => 'invalid function name', function => 'a_b' },
              'function name with an underscore');
json_error_ok('/function/-ab/', 400, { error => 'invalid function name', function => '-ab' },
              'function name starting with a dash');
json_error_ok('/function/' . ('a' x 64) . '/', 400,
              { error => 'invalid function name', function => 'a' x 64 },
              'function name of 64 characters');
json_error_ok('/function/' . ('a' x 63) . '/', 404,
              { error => 'unknown function', function => 'a' x 63 },
              'valid but unknown function name of 63 characters');
json_error_ok('/function/nope/x', 404, { error => 'unknown function', function => 'nope' },
              'unknown function');
json_error_ok('/function/nope', 404, { error => 'unknown function', function => 'nope' },
              'unknown function without a trailing slash');
{
    my $r = $t->get('/function/');
    is($r->{status}, 400, '/function/ (no name): 400');
    like($r->{headers}{'content-type'} // '', qr{^application/json\b}, '/function/: application/json');
    ok(defined $r->{json}{error}, '/function/: JSON body with an error') or diag $r->{content};
}
{
    # a name needing JSON escaping comes back escaped, still valid JSON
    my $r = $t->get('/function/%22q%5C/');
    is($r->{status}, 400, 'function name with a quote and a backslash: 400');
    my $json = eval { JSON::PP->new->decode($r->{content}) };
    ok($json && $json->{error} eq 'invalid function name', '... with a body that is still valid JSON')
        or diag $r->{content};
}

# --- weighted split --------------------------------------------------------

{
    my $N = 2000;
    my $res = $t->get_many('/function/hello/', $N, 20);
    my %by;
    $by{ $_->{status} == 200 ? $_->{headers}{'x-testfn-revision'} // '?' : "status $_->{status}" }++
        for @$res;
    is(($by{v1} // 0) + ($by{v2} // 0), $N, "weighted split: all $N requests answered by v1 or v2")
        or diag explain \%by;
    # binomial(2000, 0.1): mean 200, sd 13.4; 5 sd either side
    my $v2 = $by{v2} // 0;
    cmp_ok($v2, '>=', 133, "weighted split 90/10: v2 got $v2 of $N (>= 133)");
    cmp_ok($v2, '<=', 267, "weighted split 90/10: v2 got $v2 of $N (<= 267)");
}

# --- sticky ----------------------------------------------------------------

{
    my (%rev_of, $consistent, %seen, $errors);
    $consistent = 0;
    $errors = 0;
    for my $k (1 .. 50) {
        my $res = $t->get_many("/sticky/p?user=user-$k", 10, 10);
        my %revs;
        for (@$res) {
            if ($_->{status} != 200) { $errors++; next }
            $revs{ $_->{headers}{'x-testfn-revision'} // '?' }++;
        }
        my @r = keys %revs;
        $consistent++ if @r == 1 && $revs{ $r[0] } == 10;
        $seen{$_}++ for @r;
    }
    is($errors, 0, 'sticky: 500 requests all answered 200');
    is($consistent, 50, 'sticky: each of 50 keys requested 10 times got one revision every time');
    ok($seen{v1} && $seen{v2}, 'sticky: across the keys both revisions appear')
        or diag explain \%seen;

    # a request without a key is split at random (both revisions over 400)
    my $res = $t->get_many('/sticky/p', 400, 20);
    my %r;
    $r{ $_->{headers}{'x-testfn-revision'} // "status $_->{status}" }++ for @$res;
    ok($r{v1} && $r{v2} && $r{v1} + $r{v2} == 400,
       'sticky with an empty key: split at random, both revisions answer') or diag explain \%r;
}

# --- revision pinning ------------------------------------------------------

{
    my $res = $t->get_many('/function/hello/', 20, 10, { 'X-Faas-Revision' => 'v2' });
    is(scalar(grep { $_->{status} == 200 && $_->{headers}{'x-testfn-revision'} eq 'v2' } @$res), 20,
       'faas_revision_header on: X-Faas-Revision v2 pins 20 of 20 requests to v2');

    $res = $t->get_many('/function/canary/', 20, 10, { 'X-Faas-Revision' => 'next' });
    is(scalar(grep { $_->{status} == 200 && $_->{headers}{'x-testfn-revision'} eq 'next' } @$res), 20,
       'faas_revision_header on: a weight=0 revision can be pinned');

    $res = $t->get_many('/function/canary/', 50, 10);
    is(scalar(grep { $_->{status} == 200 && $_->{headers}{'x-testfn-revision'} eq 'stable' } @$res), 50,
       'without the header a weight=0 revision takes no traffic');

    $res = $t->get_many('/nopin/canary/', 30, 10, { 'X-Faas-Revision' => 'next' });
    is(scalar(grep { $_->{status} == 200 && $_->{headers}{'x-testfn-revision'} eq 'stable' } @$res), 30,
       'faas_revision_header off (default): X-Faas-Revision is ignored');

    my $r = $t->get('/nopin/canary/', { 'X-Faas-Revision' => 'Bad!' });
    is($r->{status}, 200, 'faas_revision_header off: an invalid revision header is ignored too');

    $r = $t->get('/function/hello/', { 'X-Faas-Revision' => 'v9' });
    is($r->{status}, 404, 'pinning an unknown revision: 404');
    like($r->{headers}{'content-type'} // '', qr{^application/json\b}, '... as application/json');
    is_deeply($r->{json}, { error => 'unknown revision', function => 'hello', revision => 'v9' },
              '... with function and revision in the JSON') or diag $r->{content};

    $r = $t->get('/function/hello/', { 'X-Faas-Revision' => 'V_2' });
    is($r->{status}, 400, 'pinning an invalid revision name: 400');
    is($r->{json}{revision}, 'V_2', '... naming the revision in the JSON') or diag $r->{content};
    is($r->{json}{function}, 'hello', '... and the function');
}

# --- no replica ------------------------------------------------------------

{
    # "queue size=0": no queue, the answer comes at once
    my $t0 = time;
    my $r = $t->get('/function/empty/x');
    my $took = time - $t0;
    is($r->{status}, 503, 'function without a ready replica and "queue size=0": 503');
    cmp_ok($took, '<', 3, sprintf('... at once (%.2f s), not after waiting in a queue', $took));
    is($r->{headers}{'retry-after'}, '1', '... with Retry-After: 1');
    like($r->{headers}{'content-type'} // '', qr{^application/json\b}, '... as application/json');
    is_deeply($r->{json}, { error => 'no ready replica', function => 'empty', revision => 'v1' },
              '... error "no ready replica" naming the function and revision') or diag $r->{content};
}

# --- a waiting request keeps its route ---------------------------------------


sub pin_status {
    my ($rev) = @_;
    my $st = $t->get('/faas/status')->{json} || {};
    my ($f) = grep { $_->{name} eq 'pin' } @{ $st->{functions} || [] };
    my ($r) = grep { $_->{name} eq $rev } @{ $f->{revisions} || [] };
    return $r || {};
}

{
    # a request pinned to v2 (weight 0) while neither revision has a replica
    my $wait = $t->background(sub {
        my $r = $t->get('/function/pin/p/q?k=v', { 'X-Faas-Revision' => 'v2' });
        return join "\t", $r->{status}, $r->{headers}{'x-testfn-revision'} // '-', $r->{content};
    });
    ok($t->wait_until(sub { pin_status('v2')->{parked} == 1 }, 5, 'pinned request parked'),
       'a pinned request to a revision without a replica waits in the queue of that revision');

    # a replica of the other revision does not take it
    my $p1 = $t->start_fn(function => 'pin', revision => 'v1');
    $t->publish_endpoint('pin', 'v1', 'p1', $p1->{addr});
    my $r = $t->get('/function/pin/other');
    is($r->{headers}{'x-testfn-revision'}, 'v1', 'a replica of v1 is published and serves unpinned requests');
    is(pin_status('v2')->{parked}, 1, '... while the request pinned to v2 keeps waiting');

    my $p2 = $t->start_fn(function => 'pin', revision => 'v2');
    $t->publish_endpoint('pin', 'v2', 'p2', $p2->{addr});
    my ($status, $rev, $body) = split /\t/, $wait->(), 3;
    my $json = eval { JSON::PP->new->decode($body) } || {};
    is($status, 200, 'once a replica of v2 is published the waiting request is answered 200');
    is($rev, 'v2', '... by v2, the revision it was pinned to');
    is($json->{path}, '/p/q', '... with the path stripped as when it arrived');
    is($json->{query}, 'k=v', '... and its query');
    is(pin_status('v2')->{parked}, 0, 'nothing is left waiting');
}

$t->log_clean_ok(allow => []);

done_testing;

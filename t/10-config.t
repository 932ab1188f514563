#!/usr/bin/perl
# Configuration checks: every mistake in the module's directives makes
# "nginx -t" fail with exactly one [emerg] line that names the directive and
# quotes the bad value (DESIGN.md section 3), and good configurations pass.
#
# Data-driven: each case is [ name, http block, expected exit code, regex
# that stderr must match, quoted value, options ].  For a failing case the
# quoted value must appear, in double quotes, in the one [emerg] line, and
# that line must point at the file and line of the mistake.  Options:
#   todo    => why   the module does not do this yet: the case is one
#                    Test::More TODO test, which "passes" only once fixed
#   line_of => text  the [emerg] must name the line of the config holding it
#
# Nothing is started: "nginx -t" does not connect to Redis, so faas_redis
# gets a fixed address that nothing needs to listen on.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use FaasTest;

my $t = FaasTest->new;


my $ZONE  = "faas_zone  faas 1m;\n";
my $REDIS = "faas_redis 127.0.0.1:6379;\n";
my $BASE  = $ZONE . $REDIS;

# a faas_function block after the zone and Redis lines
sub fn {
    my ($inner, $name) = @_;
    $name //= 'hello';
    return "${BASE}faas_function $name {\n$inner\n}\n";
}

# function "hello" with one good revision, plus $extra inside its block
sub fn1 {
    my ($extra) = @_;
    return fn("    revision v1 exec=/srv/fn/hello;\n" . ($extra // ''));
}

# function "hello", an upstream with faas_balancer, and a server holding
# $locations
sub srv {
    my ($locations, $upstream) = @_;
    $upstream //= "upstream faas { faas_balancer; keepalive 8; }\n";
    return fn1() . $upstream
           . "server {\n    listen 127.0.0.1:%%PORT%%;\n$locations\n}\n";
}


# DESIGN.md section 3, as users copy it (load_module and the port aside:
# the harness loads the module, and tests listen on a free loopback port)
my $DESIGN_EXAMPLE = <<'EOF';
    faas_zone  faas 32m;             # shared memory: functions, replicas, counters
    faas_redis 127.0.0.1:6379;       # or unix:/path; options password= user= db= prefix=

    faas_function hello {
        revision v1 "exec=/usr/bin/python3 /srv/fn/hello.py" weight=90;
        revision v2 image=localhost/hello:2 weight=10;
        env         GREETING=hi;     # passed to every replica
        concurrency 10;              # hard limit of in-flight requests per replica (0: none)
        scale       min=0 max=20 target=7 idle=60s;
        queue       size=1000 timeout=30s;
        health      /healthz;        # readiness probe path (absent: TCP connect)
    }

    upstream faas {
        faas_balancer;               # peers are the ready replicas of the chosen revision
        keepalive 64;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /function/ {
            faas_pass;               # function = first path segment after the prefix
            proxy_pass http://faas;
        }
        location = /faas/status { faas_status; }
    }
EOF

my $A63 = 'a' x 63;
my $A64 = 'a' x 64;
my $THOUSAND = $BASE . join('', map { "faas_function fn-$_ { revision v1 exec=/srv/fn/f; }\n" } 1 .. 1000);

my $OK = qr/test is successful/;


my @cases = (

    # --- faas_function -----------------------------------------------------

    [ 'function name with uppercase',
      fn("revision v1 exec=/a;", 'Hello'), 1,
      qr/invalid function name "Hello" in "faas_function", it must be a DNS label/, 'Hello' ],

    [ 'function name with a leading "-"',
      fn("revision v1 exec=/a;", '-hello'), 1,
      qr/invalid function name "-hello" in "faas_function"/, '-hello' ],

    [ 'function name with a trailing "-"',
      fn("revision v1 exec=/a;", 'hello-'), 1,
      qr/invalid function name "hello-" in "faas_function"/, 'hello-' ],

    [ 'function name of 64 characters',
      fn("revision v1 exec=/a;", $A64), 1,
      qr/invalid function name "$A64" in "faas_function".*at most 63 characters/, $A64 ],

    [ 'function name with an underscore',
      fn("revision v1 exec=/a;", 'hello_world'), 1,
      qr/invalid function name "hello_world" in "faas_function"/, 'hello_world' ],

    [ 'duplicate faas_function',
      fn1() . "faas_function hello { revision v1 exec=/b; }\n", 1,
      qr/duplicate "faas_function" "hello"/, 'hello' ],

    [ 'faas_function without a block',
      "${BASE}faas_function hello;\n", 1,
      qr/directive "faas_function" has no opening "\{"/, 'faas_function' ],

    [ 'faas_function without a revision',
      fn(''), 1,
      qr/faas_function "hello" has no "revision"/, 'hello' ],

    [ 'unknown directive inside faas_function',
      fn1("    bogus 1;"), 1,
      qr/unknown directive "bogus" in faas_function "hello"/, 'bogus' ],

    # --- revision ----------------------------------------------------------

    [ 'revision with an uppercase name',
      fn("revision V1 exec=/a;"), 1,
      qr/invalid revision name "V1" in faas_function "hello", it must be a DNS label/, 'V1' ],

    [ 'revision with an underscore in its name',
      fn("revision v_1 exec=/a;"), 1,
      qr/invalid revision name "v_1" in faas_function "hello"/, 'v_1' ],

    [ 'duplicate revision',
      fn("revision v1 exec=/a; revision v1 exec=/b;"), 1,
      qr/duplicate revision "v1" in faas_function "hello"/, 'v1' ],

    [ 'weights 90+20 sum to 110',
      fn("revision v1 exec=/a weight=90; revision v2 exec=/b weight=20;"), 1,
      qr/weights of faas_function "hello" sum to "110", they must sum to 100/, '110' ],

    [ 'weight 50 alone with two revisions',
      fn("revision v1 exec=/a weight=50; revision v2 exec=/b;"), 1,
      qr/weights of faas_function "hello" sum to "50", they must sum to 100/, '50' ],

    [ 'no weight with two revisions',
      fn("revision v1 exec=/a; revision v2 exec=/b;"), 1,
      qr/the 2 revisions of faas_function "hello" need "weight=" parameters that sum to 100/, 'hello' ],

    [ 'weight 50 on the only revision',
      fn("revision v1 exec=/a weight=50;"), 1,
      qr/weights of faas_function "hello" sum to "50"/, '50' ],

    [ 'weight not an integer',
      fn("revision v1 exec=/a weight=1.5; revision v2 exec=/b weight=20;"), 1,
      qr/invalid weight "weight=1.5" in "revision" of faas_function "hello", it takes an integer from 0 to 100/,
      'weight=1.5' ],

    [ 'weight not a number',
      fn("revision v1 exec=/a weight=half;"), 1,
      qr/invalid weight "weight=half" in "revision"/, 'weight=half' ],

    [ 'weight above 100',
      fn("revision v1 exec=/a weight=101;"), 1,
      qr/invalid weight "weight=101" in "revision" of faas_function "hello"/, 'weight=101' ],

    [ 'negative weight',
      fn("revision v1 exec=/a weight=-1;"), 1,
      qr/invalid weight "weight=-1" in "revision"/, 'weight=-1' ],

    [ 'empty weight',
      fn("revision v1 exec=/a weight=;"), 1,
      qr/invalid weight "weight=" in "revision"/, 'weight=' ],

    [ 'revision without exec= or image=',
      fn("revision v1 weight=100;"), 1,
      qr/revision "v1" of faas_function "hello" needs "exec=" or "image="/, 'v1' ],

    [ 'revision with a name only',
      fn("revision v1;"), 1,
      qr/"revision" in faas_function "hello" needs a name and "exec=" or "image="/, 'revision' ],

    [ 'empty exec=',
      fn("revision v1 exec=;"), 1,
      qr/empty "exec=" in "revision" of faas_function "hello"/, 'exec=' ],

    [ 'exec= given twice',
      fn("revision v1 exec=/a exec=/b;"), 1,
      qr/duplicate "exec=\/b" in "revision" of faas_function "hello"/, 'exec=/b' ],

    [ 'exec="a b" split by the tokenizer',
      fn("revision v1 exec=\"/usr/bin/python3 /srv/fn/hello.py\" weight=100;"), 1,
      qr/quote the whole parameter in "revision" of faas_function "hello": write "exec=\/usr\/bin\/python3 \/srv\/fn\/hello.py"/,
      'exec=/usr/bin/python3 /srv/fn/hello.py' ],

    [ 'exec="a b c" as the last parameter',
      fn("revision v1 weight=100 exec=\"a b c\";"), 1,
      qr/write "exec=a b c"/, 'exec=a b c' ],

    [ 'image="x y" split by the tokenizer',
      fn("revision v1 exec=/a image=\"x y\";"), 1,
      qr/quote the whole parameter in "revision" of faas_function "hello": write "image=x y"/, 'image=x y' ],

    [ 'exec="/a" (no space) before another parameter',
      fn("revision v1 exec=\"/srv/fn/hello\" weight=100;"), 1,
      qr/quote the whole parameter in "revision" of faas_function "hello": write "exec=\/srv\/fn\/hello"(?! weight)/,
      'exec=/srv/fn/hello' ],

    [ 'unknown parameter in revision',
      fn("revision v1 exec=/a foo=bar;"), 1,
      qr/invalid parameter "foo=bar" in "revision" of faas_function "hello"/, 'foo=bar' ],

    # --- env -----------------------------------------------------------------

    [ 'env without "="',
      fn1("    env FOO;"), 1,
      qr/invalid "env" "FOO" in faas_function "hello", it takes NAME=VALUE/, 'FOO' ],

    [ 'env name starting with a digit',
      fn1("    env 1FOO=x;"), 1,
      qr/invalid "env" "1FOO=x" in faas_function "hello"/, '1FOO=x' ],

    [ 'env name with "-"',
      fn1("    env FOO-BAR=x;"), 1,
      qr/invalid "env" "FOO-BAR=x" in faas_function "hello"/, 'FOO-BAR=x' ],

    [ 'env without a name',
      fn1("    env =x;"), 1,
      qr/invalid "env" "=x" in faas_function "hello"/, '=x' ],

    [ 'env setting PORT',
      fn1("    env PORT=8080;"), 1,
      qr/"env" "PORT=8080" in faas_function "hello" sets a variable that the runtime sets/, 'PORT=8080' ],

    [ 'env setting port',
      fn1("    env port=8080;"), 1,
      qr/"env" "port=8080" in faas_function "hello" sets a variable that the runtime sets/, 'port=8080' ],

    [ 'env setting FAAS_FUNCTION',
      fn1("    env FAAS_FUNCTION=x;"), 1,
      qr/"env" "FAAS_FUNCTION=x" in faas_function "hello" sets a variable that the runtime sets/,
      'FAAS_FUNCTION=x' ],

    [ 'duplicate env on two lines',
      fn1("    env A=1;\n    env A=2;"), 1,
      qr/duplicate "env" "A=2" in faas_function "hello"/, 'A=2' ],

    [ 'duplicate env on one line',
      fn1("    env A=1 B=2 A=3;"), 1,
      qr/duplicate "env" "A=3" in faas_function "hello"/, 'A=3' ],

    [ 'env without arguments',
      fn1("    env;"), 1,
      qr/"env" in faas_function "hello" needs NAME=VALUE/, 'env' ],

    # --- concurrency, scale, queue, health -----------------------------------

    [ 'concurrency not a number',
      fn1("    concurrency ten;"), 1,
      qr/invalid number "ten" in "concurrency", it takes an integer from 0 to 1000000/, 'ten' ],

    [ 'concurrency negative',
      fn1("    concurrency -1;"), 1,
      qr/invalid number "-1" in "concurrency"/, '-1' ],

    [ 'concurrency above the limit',
      fn1("    concurrency 1000001;"), 1,
      qr/invalid number "1000001" in "concurrency"/, '1000001' ],

    [ 'concurrency with two values',
      fn1("    concurrency 1 2;"), 1,
      qr/invalid number of arguments in "concurrency" of faas_function "hello"/, 'concurrency' ],

    [ 'duplicate concurrency',
      fn1("    concurrency 1;\n    concurrency 2;"), 1,
      qr/"concurrency" is duplicate in faas_function "hello"/, 'concurrency' ],

    [ 'scale with a bad min=',
      fn1("    scale min=x;"), 1,
      qr/invalid number "min=x" in "scale", it takes an integer from 0 to 1000000/, 'min=x' ],

    [ 'scale with a bad max=',
      fn1("    scale max=-2;"), 1,
      qr/invalid number "max=-2" in "scale"/, 'max=-2' ],

    [ 'scale with a bad target=',
      fn1("    scale target=1e3;"), 1,
      qr/invalid number "target=1e3" in "scale"/, 'target=1e3' ],

    [ 'scale with a bad idle=',
      fn1("    scale idle=forever;"), 1,
      qr/invalid time "idle=forever" in "scale"/, 'idle=forever' ],

    [ 'scale with idle below 1s',
      fn1("    scale idle=500ms;"), 1,
      qr/"idle=500ms" in "scale" of faas_function "hello" is too short, the minimum is 1s/, 'idle=500ms' ],

    [ 'scale with idle=0',
      fn1("    scale idle=0;"), 1,
      qr/"idle=0" in "scale" of faas_function "hello" is too short/, 'idle=0' ],

    [ 'scale with min above max',
      fn1("    scale min=5 max=2;"), 1,
      qr/"scale" of faas_function "hello" has "min=5" above "max=2"/, 'min=5' ],

    [ 'scale with target above concurrency',
      fn1("    concurrency 5;\n    scale target=7;"), 1,
      qr/"scale" of faas_function "hello" has "target=7" above "concurrency 5"/, 'target=7' ],

    [ 'scale with an unknown parameter',
      fn1("    scale min=1 burst=3;"), 1,
      qr/invalid parameter "burst=3" in "scale" of faas_function "hello"/, 'burst=3' ],

    [ 'scale without parameters',
      fn1("    scale;"), 1,
      qr/"scale" in faas_function "hello" needs min=, max=, target= or idle=/, 'scale' ],

    [ 'scale with min= twice on one line',
      fn1("    scale min=1 min=2;"), 1,
      qr/duplicate "min=2" in "scale"/, 'min=2' ],

    [ 'duplicate scale',
      fn1("    scale min=1;\n    scale max=3;"), 1,
      qr/"scale" is duplicate in faas_function "hello"/, 'scale' ],

    [ 'queue with a bad size=',
      fn1("    queue size=big;"), 1,
      qr/invalid number "size=big" in "queue", it takes an integer from 0 to 1000000/, 'size=big' ],

    [ 'queue with a negative size=',
      fn1("    queue size=-1;"), 1,
      qr/invalid number "size=-1" in "queue"/, 'size=-1' ],

    [ 'queue with a bad timeout=',
      fn1("    queue timeout=soon;"), 1,
      qr/invalid time "timeout=soon" in "queue"/, 'timeout=soon' ],

    [ 'queue with timeout=0',
      fn1("    queue timeout=0;"), 1,
      qr/"timeout=0" in "queue" of faas_function "hello" must be more than 0/, 'timeout=0' ],

    [ 'queue with timeout=0s',
      fn1("    queue timeout=0s;"), 1,
      qr/"timeout=0s" in "queue" of faas_function "hello" must be more than 0/, 'timeout=0s' ],

    [ 'queue with an unknown parameter',
      fn1("    queue depth=3;"), 1,
      qr/invalid parameter "depth=3" in "queue" of faas_function "hello"/, 'depth=3' ],

    [ 'queue without parameters',
      fn1("    queue;"), 1,
      qr/"queue" in faas_function "hello" needs size= or timeout=/, 'queue' ],

    [ 'duplicate queue',
      fn1("    queue size=1;\n    queue timeout=1s;"), 1,
      qr/"queue" is duplicate in faas_function "hello"/, 'queue' ],

    [ 'health not starting with "/"',
      fn1("    health healthz;"), 1,
      qr/invalid path "healthz" in "health" of faas_function "hello", it must start with "\/"/, 'healthz' ],

    [ 'health with a space (quoted)',
      fn1("    health \"/health z\";"), 1,
      qr/invalid path "\/health z" in "health" of faas_function "hello"/, '/health z' ],

    [ 'health with "#"',
      fn1("    health \"/a#b\";"), 1,
      qr/invalid path "\/a#b" in "health"/, '/a#b' ],

    [ 'health empty',
      fn1("    health \"\";"), 1,
      qr/invalid path "" in "health"/, '' ],

    [ 'health without a path',
      fn1("    health;"), 1,
      qr/invalid number of arguments in "health" of faas_function "hello"/, 'health' ],

    [ 'duplicate health',
      fn1("    health /a;\n    health /b;"), 1,
      qr/"health" is duplicate in faas_function "hello"/, 'health' ],

    # --- faas_zone -----------------------------------------------------------

    [ 'faas_zone with a bad size',
      "faas_zone faas 12q;\n$REDIS", 1,
      qr/invalid zone size "12q" in "faas_zone"/, '12q' ],

    [ 'faas_zone too small',
      "faas_zone faas 16k;\n$REDIS", 1,
      qr/zone size "16k" in "faas_zone" is too small, the minimum is \d+k/, '16k' ],

    [ 'faas_zone twice',
      "faas_zone faas 1m;\nfaas_zone other 1m;\n$REDIS", 1,
      qr/"faas_zone" directive is duplicate/, 'faas_zone' ],

    [ 'faas_zone without a size',
      "faas_zone faas;\n$REDIS", 1,
      qr/invalid number of arguments in "faas_zone" directive/, 'faas_zone' ],

    [ 'faas_zone named like another module\'s zone',
      "limit_req_zone \$binary_remote_addr zone=faas:1m rate=1r/s;\n$BASE", 1,
      qr/the shared memory zone "faas" is already declared for a different use/, 'faas' ],

    [ 'faas_function without faas_zone',
      $REDIS . "faas_function hello { revision v1 exec=/a; }\n", 1,
      qr/"faas_function", "faas_pass", "faas_balancer" and "faas_status" need "faas_zone" in the http block/,
      'faas_zone' ],

    [ 'faas_balancer without faas_zone',
      $REDIS . "upstream faas { faas_balancer; }\n", 1,
      qr/need "faas_zone" in the http block/, 'faas_zone' ],

    # --- faas_redis ----------------------------------------------------------

    [ 'faas_function without faas_redis',
      $ZONE . "faas_function hello { revision v1 exec=/a; }\n", 1,
      qr/"faas_function", "faas_pass", "faas_balancer" and "faas_status" need "faas_redis" in the http block/,
      'faas_redis' ],

    [ 'faas_status without faas_redis',
      $ZONE . "server { listen 127.0.0.1:%%PORT%%; location = /s { faas_status; } }\n", 1,
      qr/need "faas_redis" in the http block/, 'faas_redis' ],

    [ 'faas_redis with a bad port',
      "${ZONE}faas_redis 127.0.0.1:99999;\n", 1,
      qr/invalid address "127.0.0.1:99999" in "faas_redis": invalid port/, '127.0.0.1:99999' ],

    [ 'faas_redis with a path after the address',
      "${ZONE}faas_redis 127.0.0.1:6379/db;\n", 1,
      qr/invalid address "127.0.0.1:6379\/db" in "faas_redis"/, '127.0.0.1:6379/db' ],

    [ 'faas_redis with an empty unix: path',
      "${ZONE}faas_redis unix:;\n", 1,
      qr/invalid address "unix:" in "faas_redis": no path/, 'unix:' ],

    [ 'faas_redis with an unknown parameter',
      "${ZONE}faas_redis 127.0.0.1:6379 foo=bar;\n", 1,
      qr/invalid parameter "foo=bar" in "faas_redis"/, 'foo=bar' ],

    [ 'faas_redis with db= not a number',
      "${ZONE}faas_redis 127.0.0.1:6379 db=x;\n", 1,
      qr/invalid database "db=x" in "faas_redis"/, 'db=x' ],

    [ 'faas_redis with a negative db=',
      "${ZONE}faas_redis 127.0.0.1:6379 db=-1;\n", 1,
      qr/invalid database "db=-1" in "faas_redis"/, 'db=-1' ],

    [ 'faas_redis with a bad prefix=',
      "${ZONE}faas_redis 127.0.0.1:6379 prefix=a/b;\n", 1,
      qr/invalid prefix "prefix=a\/b" in "faas_redis", it takes 1-64 characters/, 'prefix=a/b' ],

    [ 'faas_redis with an empty prefix=',
      "${ZONE}faas_redis 127.0.0.1:6379 prefix=;\n", 1,
      qr/invalid prefix "prefix=" in "faas_redis"/, 'prefix=' ],

    [ 'faas_redis with a prefix= of 65 characters',
      "${ZONE}faas_redis 127.0.0.1:6379 prefix=" . ('p' x 65) . ";\n", 1,
      qr/invalid prefix "prefix=p{65}" in "faas_redis"/, 'prefix=' . ('p' x 65) ],

    [ 'faas_redis with user= and no password=',
      "${ZONE}faas_redis 127.0.0.1:6379 user=bob;\n", 1,
      qr/"user=bob" in "faas_redis" needs "password="/, 'user=bob' ],

    [ 'faas_redis with resync= too short',
      "${ZONE}faas_redis 127.0.0.1:6379 resync=50ms;\n", 1,
      qr/"resync=50ms" in "faas_redis" is too short, the minimum is 100ms/, 'resync=50ms' ],

    [ 'faas_redis with a bad resync=',
      "${ZONE}faas_redis 127.0.0.1:6379 resync=later;\n", 1,
      qr/invalid time "resync=later" in "faas_redis"/, 'resync=later' ],

    [ 'faas_redis with db= given twice',
      "${ZONE}faas_redis 127.0.0.1:6379 db=1 db=2;\n", 1,
      qr/duplicate "db=2" in "faas_redis"/, 'db=2' ],

    [ 'faas_redis with an empty password',
      "${ZONE}faas_redis 127.0.0.1:6379 password=;\n", 1,
      qr/empty "password=" in "faas_redis"/, 'password=' ],

    [ 'exec= in single quotes split by nginx',
      fn("revision v1 exec='/bin/true a';"), 1,
      qr/write "exec=\/bin\/true a"/, 'exec=/bin/true a' ],

    [ 'faas_redis twice',
      "${BASE}faas_redis 127.0.0.1:6380;\n", 1,
      qr/"faas_redis" directive is duplicate/, 'faas_redis' ],

    # --- faas_pass -----------------------------------------------------------

    [ 'faas_pass with an unknown function',
      srv("    location /x/ {\n        faas_pass nosuch;\n        proxy_pass http://faas;\n    }"), 1,
      qr/unknown function "nosuch" in "faas_pass" in \S+nginx-test\.conf:\d+/, 'nosuch',
      { line_of => 'faas_pass nosuch;' } ],

    [ 'faas_pass with an unknown function and no faas_function at all',
      "${BASE}server {\n    listen 127.0.0.1:%%PORT%%;\n    location /x/ { faas_pass nosuch; }\n}\n", 1,
      qr/unknown function "nosuch" in "faas_pass"/, 'nosuch',
      { line_of => 'faas_pass nosuch;' } ],

    [ 'faas_pass with an invalid name',
      srv("    location /x/ { faas_pass Bad_Name; proxy_pass http://faas; }"), 1,
      qr/invalid function name "Bad_Name" in "faas_pass"/, 'Bad_Name' ],

    [ 'faas_pass without a name in a regex location',
      srv("    location ~ ^/f/ { faas_pass; proxy_pass http://faas; }"), 1,
      qr/"faas_pass" without a function name takes it from the path after a prefix location, not a regex location "\^\/f\/"/,
      '^/f/' ],

    [ 'faas_pass without a name in an exact-match location',
      srv("    location = /f { faas_pass; proxy_pass http://faas; }"), 1,
      qr/"faas_pass" without a function name .* not location "\/f"/, '/f' ],

    [ 'faas_pass without a name in a named location',
      srv("    location \@f { faas_pass; proxy_pass http://faas; }"), 1,
      qr/"faas_pass" without a function name .* not location "\@f"/, '@f' ],

    [ 'faas_pass without proxy_pass',
      srv("    location /f/ { faas_pass; }"), 1,
      qr/"faas_pass" in location "\/f\/" needs "proxy_pass" to an upstream with "faas_balancer"/, '/f/' ],

    [ 'faas_pass twice',
      srv("    location /f/ { faas_pass; faas_pass; proxy_pass http://faas; }"), 1,
      qr/"faas_pass" directive is duplicate/, 'faas_pass' ],

    [ 'faas_pass with a name, then without',
      srv("    location /f/ { faas_pass hello; faas_pass; proxy_pass http://faas; }"), 1,
      qr/"faas_pass" directive is duplicate/, 'faas_pass' ],

    [ 'faas_pass with two arguments',
      srv("    location /f/ { faas_pass a b; }"), 1,
      qr/invalid number of arguments in "faas_pass" directive/, 'faas_pass' ],

    [ 'faas_pass at server level',
      srv("    faas_pass;"), 1,
      qr/"faas_pass" directive is not allowed here/, 'faas_pass' ],

    [ 'faas_pass inside "if"',
      srv("    location /f/ { if (\$arg_x) { faas_pass; } }"), 1,
      qr/"faas_pass" directive is not allowed here/, 'faas_pass' ],

    # --- faas_balancer -------------------------------------------------------

    [ 'faas_balancer after keepalive',
      srv('', "upstream faas { keepalive 64; faas_balancer; }\n"), 1,
      qr/"faas_balancer" must come first in upstream "faas": another balancer or "keepalive" is set before it/,
      'faas_balancer' ],

    [ 'faas_balancer after least_conn',
      srv('', "upstream faas { least_conn; faas_balancer; }\n"), 1,
      qr/"faas_balancer" must come first in upstream "faas"/, 'faas' ],

    [ 'faas_balancer with a server after it',
      srv('', "upstream faas { faas_balancer; server 127.0.0.1:1; }\n"), 1,
      qr/upstream "faas" with "faas_balancer" takes no "server": its peers are the ready replicas/, 'server' ],

    [ 'faas_balancer with a server before it',
      srv('', "upstream faas { server 127.0.0.1:1; faas_balancer; }\n"), 1,
      qr/upstream "faas" with "faas_balancer" takes no "server"/, 'server' ],

    [ 'faas_balancer with a zone',
      srv('', "upstream faas { faas_balancer; zone up 64k; }\n"), 1,
      qr/upstream "faas" with "faas_balancer" takes no "zone": replicas live in "faas_zone"/, 'zone' ],

    [ 'faas_balancer with an argument',
      srv('', "upstream faas { faas_balancer on; }\n"), 1,
      qr/invalid number of arguments in "faas_balancer" directive/, 'faas_balancer' ],

    # --- faas_status, faas_sticky, faas_revision_header ----------------------

    [ 'faas_status after another content handler',
      srv("    location = /s { proxy_pass http://faas; faas_status; }"), 1,
      qr/"faas_status" directive conflicts with another content handler in this location/, 'faas_status' ],

    [ 'faas_status twice',
      srv("    location = /s { faas_status; faas_status; }"), 1,
      qr/"faas_status" directive (?:is duplicate|conflicts with another content handler)/, 'faas_status' ],

    [ 'faas_status before another content handler',
      srv("    location = /s { faas_status; proxy_pass http://faas; }"), 1,
      qr/"faas_status".*content handler|"proxy_pass".*"faas_status"/, 'faas_status' ],

    [ 'faas_status with an argument',
      srv("    location = /s { faas_status on; }"), 1,
      qr/invalid number of arguments in "faas_status" directive/, 'faas_status' ],

    [ 'faas_status at server level',
      srv("    faas_status;"), 1,
      qr/"faas_status" directive is not allowed here/, 'faas_status' ],

    [ 'faas_sticky without a key',
      "${BASE}faas_sticky;\n", 1,
      qr/invalid number of arguments in "faas_sticky" directive/, 'faas_sticky' ],

    [ 'faas_sticky twice',
      "${BASE}faas_sticky \$cookie_a;\nfaas_sticky \$cookie_b;\n", 1,
      qr/"faas_sticky" directive is duplicate/, 'faas_sticky' ],

    [ 'faas_revision_header not on/off',
      "${BASE}faas_revision_header maybe;\n", 1,
      qr/invalid value "maybe" in "faas_revision_header" directive, it must be "on" or "off"/, 'maybe' ],

    # --- good configurations -------------------------------------------------

    [ 'the example of DESIGN.md section 3', $DESIGN_EXAMPLE, 0, $OK ],

    [ 'the module loaded and unused', "server { listen 127.0.0.1:%%PORT%%; }\n", 0, $OK ],

    [ 'faas_zone and faas_redis without functions', $BASE, 0, $OK ],

    [ 'one revision without a weight', fn("revision v1 exec=/srv/fn/hello;"), 0, $OK ],

    [ 'one revision with weight=100', fn("revision v1 image=hello:1 weight=100;"), 0, $OK ],

    [ 'a revision at weight=0 plus others summing to 100',
      fn("revision v1 exec=/a weight=0;\nrevision v2 exec=/b weight=60;\nrevision v3 image=c:1 weight=40;"),
      0, $OK ],

    [ 'a revision without a weight beside one at 100 (reached only when pinned)',
      fn("revision v1 exec=/a weight=100;\nrevision v2 exec=/b;"), 0, $OK ],

    [ 'exec= quoted whole, and both exec= and image=',
      fn("revision v1 \"exec=/usr/bin/python3 /srv/fn/hello.py\" image=localhost/hello:1;"), 0, $OK ],

    [ 'every inner directive at its limits',
      fn("revision v1 exec=/a;\nenv A=1 B_2=x _C=;\nenv D=a=b;\nconcurrency 0;\n"
         . "scale min=3 max=0 target=0 idle=1s;\nqueue size=0 timeout=1ms;\nhealth /;"), 0, $OK ],

    [ 'scale target equal to concurrency, min equal to max',
      fn1("    concurrency 7;\n    scale min=2 max=2 target=7;"), 0, $OK ],

    [ 'function and revision names with digits and "-"',
      fn("revision r-1 exec=/a;", 'b-2'), 0, $OK ],

    [ 'a function name of 63 characters',
      fn("revision v1 exec=/a;", $A63), 0, $OK,
      undef ],

    [ 'a revision name of 63 characters',
      fn("revision $A63 exec=/a;"), 0, $OK ],

    [ '1000 functions', $THOUSAND, 0, $OK ],

    [ 'faas_pass with a name declared after the server',
      "${BASE}upstream faas { faas_balancer; }\n"
      . "server {\n    listen 127.0.0.1:%%PORT%%;\n"
      . "    location = /hi { faas_pass late; proxy_pass http://faas; }\n}\n"
      . "faas_function late { revision v1 exec=/a; }\n", 0, $OK ],

    [ 'faas_pass with variables (map, $host, regex capture)',
      fn1() . "map \$http_x_fn \$fn_name { default hello; }\n"
      . "upstream faas { faas_balancer; keepalive 8; }\n"
      . "server {\n    listen 127.0.0.1:%%PORT%%;\n"
      . "    location /by-map/ { faas_pass \$fn_name; proxy_pass http://faas; }\n"
      . "    location /by-host/ { faas_pass \$host; proxy_pass http://faas; }\n"
      . "    location ~ ^/re/(?<fn>[a-z0-9-]+) { faas_pass \$fn; proxy_pass http://faas; }\n"
      . "    location = /exact { faas_pass hello; proxy_pass http://faas; }\n"
      . "    location / { faas_pass; proxy_pass http://faas; }\n}\n", 0, $OK ],

    [ 'faas_redis on a unix socket with every parameter',
      "${ZONE}faas_redis unix:/nonexistent/redis.sock password=s3cret user=nginx db=3 \"prefix=app:{x}.\";\n",
      0, $OK ],

    [ 'faas_redis on IPv6 with password= only',
      "${ZONE}faas_redis [::1]:6380 password=s3cret db=0 prefix=faas:;\n", 0, $OK ],

    [ 'faas_redis with resync=',
      "${ZONE}faas_redis 127.0.0.1:6379 resync=1s;\n", 0, $OK,
      undef ],

    [ 'faas_sticky and faas_revision_header at http, server and location level',
      fn("revision v1 exec=/a weight=50;\nrevision v2 exec=/b weight=50;")
      . "faas_sticky \$cookie_user;\nfaas_revision_header on;\n"
      . "upstream faas { faas_balancer; }\n"
      . "server {\n    listen 127.0.0.1:%%PORT%%;\n"
      . "    faas_sticky \$remote_addr;\n    faas_revision_header off;\n"
      . "    location /a/ { faas_sticky \"u-\$arg_user\"; faas_revision_header on; faas_pass; proxy_pass http://faas; }\n"
      . "    location /b/ { faas_pass; proxy_pass http://faas; }\n}\n", 0, $OK ],

    [ 'faas_status alone in its location', srv("    location = /faas/status { faas_status; }"), 0, $OK ],
);


for my $case (@cases) {
    my ($name, $block, $exit, $re, $quote, $opt) = @$case;
    $opt //= {};

    my ($rc, $err) = $t->nginx_test_config($block);
    my @checks = check($rc, $err, $exit, $re, $quote, $opt);

    if (my $todo = $opt->{todo}) {
        # one test for the whole case, so that "TODO passed" means fixed
        local $TODO = $todo;
        my @failed = grep { !$_->[0] } @checks;
        ok(!@failed, "$name: every check passes")
            or diag join('', map { "failed: $_->[1]\n" . ($_->[2] ? "$_->[2]\n" : '') } @failed), $err;
        next;
    }

    for my $c (@checks) {
        ok($c->[0], "$name: $c->[1]") or diag(($c->[2] ? "$c->[2]\n" : '') . $err);
    }
}

done_testing;


# The checks of one case, each [ passed, what, detail shown on failure ],
# in the order they are reported.
sub check {
    my ($rc, $err, $exit, $re, $quote, $opt) = @_;
    my @checks;

    push @checks, [ $rc == $exit, "nginx -t exits with $exit", "exit code: $rc" ];
    push @checks, [ scalar($err =~ $re), 'stderr has the expected message',
                    "expected: $re" ];

    if ($exit == 0) {
        push @checks, [ $err !~ /\[(?:emerg|alert|crit|error|warn)\]/,
                        'nothing logged above notice' ];
        return @checks;
    }

    my @emerg = grep { /\[emerg\]/ } split /\n/, $err;
    my $line = $emerg[0] // '';

    push @checks, [ @emerg == 1, 'exactly one [emerg] line' ];
    push @checks, [ index($line, "\"$quote\"") >= 0,
                    "the [emerg] line quotes \"$quote\"" ];

    if (my $text = $opt->{line_of}) {
        my $want = config_line_of($text);
        push @checks, [ scalar($line =~ /nginx-test\.conf:\Q$want\E$/),
                        "the [emerg] line names line $want, where \"$text\" is" ];

    } else {
        push @checks, [ scalar($line =~ / in \S+nginx-test\.conf:\d+$/),
                        'the [emerg] line names the file and line' ];
    }

    return @checks;
}


# The line number of the first line of the last tested configuration that
# holds $text.
sub config_line_of {
    my ($text) = @_;
    my $path = $t->prefix . '/nginx-test.conf';
    open(my $fh, '<', $path) or die "$path: $!";
    while (my $l = <$fh>) {
        return $. if index($l, $text) >= 0;
    }
    return 0;
}

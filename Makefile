# nginx-faas: build the nginx module, the daemons and the tests.
#
#   make          module and daemons into build/
#   make test     install missing packages, build, run the whole suite
#   make asan     the module and the controller under AddressSanitizer
#   make deps     install every Debian package the build and tests need
#   make demo     Redis, the controller and nginx with the example functions
#   make demo-stop  stop what make demo started

SHELL     := /bin/bash
NGINX_SRC ?= /usr/share/nginx/src
BUILD     := build
PROVE     ?= prove

CC        ?= cc
CFLAGS    ?= -O2 -g
WARN      := -std=c99 -Wall -Wextra -Werror -D_GNU_SOURCE

DEB_PACKAGES := build-essential dpkg-dev nginx nginx-dev libhiredis-dev \
                libcjson-dev libcurl4-openssl-dev redis-server wrk \
                libtest-tcp-perl libwww-perl python3 \
                docker.io podman runc

MODULE_SRCS := config $(wildcard ngx_faas_module/*.c ngx_faas_module/*.h)

.PHONY: all module asan unit daemons deps deps-check test clean demo demo-stop

all: module daemons $(BUILD)/faas-testfn $(BUILD)/runtime-driver unit

module: $(BUILD)/ngx_http_faas_module.so

# Debian's nginx is built --with-compat: configuring nginx-dev's tree with
# the same flags into our own build directory gives a binary-compatible
# module without writing anything under $(NGINX_SRC).
define nginx_module_build
	mkdir -p $(1)
	cd $(NGINX_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS) $(2)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC $(3)" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --builddir=$(1) > $(1)/configure.log 2>&1 \
	    || { cat $(1)/configure.log; exit 1; }
endef

$(BUILD)/nginx/Makefile: config
	$(call nginx_module_build,$(CURDIR)/$(BUILD)/nginx,,)

$(BUILD)/ngx_http_faas_module.so: $(BUILD)/nginx/Makefile $(MODULE_SRCS)
	$(MAKE) -s -f $(CURDIR)/$(BUILD)/nginx/Makefile -C $(NGINX_SRC) modules
	cp $(BUILD)/nginx/ngx_http_faas_module.so $@.tmp
	mv $@.tmp $@    # a running nginx keeps the file it mapped

# the module and the controller under AddressSanitizer, for t/99-asan.t
asan: $(BUILD)/asan/ngx_http_faas_module.so $(BUILD)/asan/faas-controller

$(BUILD)/asan/Makefile: config
	$(call nginx_module_build,$(CURDIR)/$(BUILD)/asan,-fsanitize=address -fno-omit-frame-pointer,-fsanitize=address)

$(BUILD)/asan/ngx_http_faas_module.so: $(BUILD)/asan/Makefile $(MODULE_SRCS)
	$(MAKE) -s -f $(CURDIR)/$(BUILD)/asan/Makefile -C $(NGINX_SRC) modules
	touch $@

# faas-controller: the reconcile loop, the runtimes and the scaler policy.
CONTROLLER_SRCS := $(wildcard controller/*.c) $(wildcard scaler/*.c)
CONTROLLER_HDRS := $(wildcard controller/*.h) $(wildcard scaler/*.h)
CONTROLLER_LIBS := -lhiredis -lcurl -lcjson -lpthread -lm

daemons: $(BUILD)/faas-controller

$(BUILD)/faas-controller: $(CONTROLLER_SRCS) $(CONTROLLER_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -Icontroller -Iscaler -o $@ \
	    $(CONTROLLER_SRCS) $(CONTROLLER_LIBS)

# the same under AddressSanitizer (leaks included), for the tests in CI
$(BUILD)/asan/faas-controller: $(CONTROLLER_SRCS) $(CONTROLLER_HDRS)
	@mkdir -p $(BUILD)/asan
	$(CC) -O1 -g $(WARN) -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -Icontroller -Iscaler -o $@ $(CONTROLLER_SRCS) $(CONTROLLER_LIBS)

# The runtimes alone, driven from the tests (t/40-runtime-*.t).
RUNTIME_DRIVER_SRCS := t/tools/runtime_driver.c controller/runtime_process.c \
                       controller/runtime_docker.c controller/argv.c \
                       controller/spec.c controller/fail.c

$(BUILD)/runtime-driver: $(RUNTIME_DRIVER_SRCS) $(wildcard controller/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -Icontroller -o $@ $(RUNTIME_DRIVER_SRCS) \
	    -lcurl -lcjson -lpthread

# The function used by the tests (and as the tiny container image): static
# so that it runs in a FROM scratch image unchanged.
$(BUILD)/faas-testfn: t/fn/testfn.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -static -pthread -o $@ $<

# C unit tests of the pure parts; each binary prints TAP for prove, and a
# small t/NN-unit-*.t runs it.  t/unit/module_*.c test the module's pure
# file, t/unit/scaler_*.c the scaler, and t/unit/controller_X.c the
# controller's pure file controller/X.c.
UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/*.c))
UNIT_CFLAGS  = $(CFLAGS) $(WARN) -fsanitize=address,undefined -It/unit

unit: $(UNIT_TESTS)

$(BUILD)/unit/module_%: t/unit/module_%.c ngx_faas_module/ngx_http_faas_pure.c \
                        ngx_faas_module/ngx_http_faas_pure.h t/unit/tap.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -Ingx_faas_module -o $@ $< \
	    ngx_faas_module/ngx_http_faas_pure.c

$(BUILD)/unit/scaler_%: t/unit/scaler_%.c $(wildcard scaler/*.c scaler/*.h) \
                        t/unit/tap.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -Iscaler -o $@ $< $(wildcard scaler/*.c) -lm

$(BUILD)/unit/controller_%: t/unit/controller_%.c controller/%.c \
                            controller/fail.c $(wildcard controller/*.h) \
                            t/unit/tap.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -Icontroller -Iscaler -o $@ $< controller/$*.c \
	    controller/fail.c -lcjson -lm

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    $(DEB_PACKAGES)

# Installs only when something is missing, so that repeated runs stay fast.
deps-check:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing missing packages:" $$missing; \
	    $(MAKE) deps; \
	fi

test: deps-check
	$(MAKE) all asan
	$(PROVE) --timer t/

clean:
	rm -rf $(BUILD)

# The demo: docs/examples/ served on loopback ports, state under
# build/demo/ (demo/run, demo/stop).  Installs and builds what is missing
# first, as "make test" does; running it again stops the previous demo.
DEMO_DIR := $(BUILD)/demo
DEB_PACKAGES += curl

demo: deps-check
	$(MAKE) all $(BUILD)/hello-c
	demo/run $(CURDIR)/$(DEMO_DIR)

demo-stop:
	demo/stop $(CURDIR)/$(DEMO_DIR)

$(BUILD)/hello-c: docs/examples/hello.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -o $@ $<

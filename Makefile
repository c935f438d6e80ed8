# The two entry points on a fresh Debian or Ubuntu machine; everything else is CMake.
#
#   make demo    install what is missing, build, and tour omvdev
#   make check   install what is missing, build under ASan+UBSan, run every test
#   make demo-deps   run the demo traced (strace) in a fresh build directory and check
#                that every program and library it used comes from a package in PACKAGES
#
# Missing packages are installed with apt-get: directly as root, through sudo
# otherwise; without either, the exact command is printed.

# The demo's own list: `make demo-deps` proves a fresh machine needs nothing more
# (umockdev provides libumockdev-preload.so.0 for the virtual camera; python3 and xz-utils
# serve and pack the SDK tour's loopback mirror; git names the commit in --version).
PACKAGES := gcc make cmake pkg-config libcurl4-openssl-dev libarchive-dev libssl-dev libumockdev-dev \
            libinih-dev libusb-1.0-0-dev liblzma-dev umockdev python3 xz-utils git
CHECK_PACKAGES := $(PACKAGES) clang-format python3 zsh fish libumockdev-dev umockdev dfu-util openssl xz-utils \
                  gcc-arm-none-eabi git strace lintian dpkg-dev
# debug and vscode: the real GDB servers, gdb, the emulator and clangd
CHECK_PACKAGES += qemu-system-arm gdb-multiarch openocd clangd
# unit/clang-wcomma: clang -Wcomma over the sources
CHECK_PACKAGES += clang

DEMO_BUILD ?= build/release
DEMO := $(DEMO_BUILD)/omvdev

# The offline GitHub Actions linters the `ci github` test runs (tests/ci/package.json,
# pinned by its lock file), installed into build/npm, never globally.
NPM_DIR := build/npm

.PHONY: demo check deps check-deps format-check demo-deps npm-deps

deps:
	@PKGS="$(PACKAGES)" sh cmake/install-deps.sh

check-deps:
	@PKGS="$(CHECK_PACKAGES)" sh cmake/install-deps.sh

demo: deps
	cmake --preset release -B $(DEMO_BUILD) >/dev/null
	cmake --build $(DEMO_BUILD) -j
	@DEMO=$(DEMO) sh cmake/demo.sh

check: check-deps format-check npm-deps
	cmake --workflow --preset asan

# tests/data holds fixtures in the firmware's own formatting (aligned #define columns).
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' ':!tests/data/' 2>/dev/null || \
	    find . -path ./build -prune -o -path ./tests/data -prune -o -name '*.[ch]' -print)

# The demo from a fresh build directory under strace, then every program it ran and library
# it loaded is looked up with dpkg (cmake/demo-deps.py). CI runs this after `make check`.
demo-deps: check-deps
	rm -rf build/demo-deps build/demo-deps.trace
	mkdir -p build/demo-deps.trace
	strace -ff -qq -z -s 4096 -e trace=openat,execve -o build/demo-deps.trace/t \
	    $(MAKE) --no-print-directory demo DEMO_BUILD=build/demo-deps
	python3 cmake/demo-deps.py build/demo-deps.trace $(PACKAGES)

npm-deps:
	@command -v npm >/dev/null 2>&1 || PKGS="nodejs npm" sh cmake/install-deps.sh
	@if ! cmp -s tests/ci/package-lock.json $(NPM_DIR)/package-lock.json; then \
	    rm -rf $(NPM_DIR) && mkdir -p $(NPM_DIR) && \
	    cp tests/ci/package.json tests/ci/package-lock.json $(NPM_DIR)/ && \
	    cd $(NPM_DIR) && npm ci --no-audit --no-fund --ignore-scripts; \
	fi

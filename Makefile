# The two entry points on a fresh Debian or Ubuntu machine; everything else is CMake.
#
#   make demo    install what is missing, build, and tour omvdev
#   make check   install what is missing, build under ASan+UBSan, run every test
#
# Missing packages are installed with apt-get: directly as root, through sudo
# otherwise; without either, the exact command is printed.

PACKAGES := gcc make cmake pkg-config libcurl4-openssl-dev libarchive-dev libssl-dev libumockdev-dev \
            libinih-dev libusb-1.0-0-dev liblzma-dev
CHECK_PACKAGES := $(PACKAGES) clang-format python3 zsh fish libumockdev-dev umockdev dfu-util openssl xz-utils \
                  gcc-arm-none-eabi git
# debug and vscode: the real GDB servers, gdb, the emulator and clangd
CHECK_PACKAGES += qemu-system-arm gdb-multiarch openocd clangd

DEMO := build/release/omvdev

.PHONY: demo check deps check-deps format-check

deps:
	@PKGS="$(PACKAGES)" sh cmake/install-deps.sh

check-deps:
	@PKGS="$(CHECK_PACKAGES)" sh cmake/install-deps.sh

demo: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j
	@DEMO=$(DEMO) sh cmake/demo.sh

check: check-deps format-check
	cmake --workflow --preset asan

# tests/data holds fixtures in the firmware's own formatting (aligned #define columns).
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' ':!tests/data/' 2>/dev/null || \
	    find . -path ./build -prune -o -path ./tests/data -prune -o -name '*.[ch]' -print)

# As upstream's common/check_toolchain.mk: Cortex-M55 needs GCC 14.3 or newer.
GCC_VERSION := $(shell arm-none-eabi-gcc -dumpversion | cut -d. -f1-2)
GCC_VERSION_MAJOR := $(word 1,$(subst ., ,$(GCC_VERSION)))
GCC_VERSION_MINOR := $(word 2,$(subst ., ,$(GCC_VERSION)))
GCC_VERSION_NUM := $(shell echo $$(( $(GCC_VERSION_MAJOR) * 100 + $(or $(GCC_VERSION_MINOR),0) )))
ifeq ($(shell test $(GCC_VERSION_NUM) -lt 1403 && echo yes),yes)
$(warning *** ERROR ***)
$(warning GCC $(GCC_VERSION) has known issues with Cortex-M55)
$(warning Upgrade to GCC 14.3+ for proper CM55 support)
$(error )
endif

# Stand-in for ports/stm32/omv_portconfig.mk: the directory tells the repository root apart.

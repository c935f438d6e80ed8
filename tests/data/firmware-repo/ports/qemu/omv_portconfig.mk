# Stand-in for ports/qemu/omv_portconfig.mk: the directory tells the repository root apart.

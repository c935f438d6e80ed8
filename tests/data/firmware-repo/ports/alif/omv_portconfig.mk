# Stand-in for ports/alif/omv_portconfig.mk: the directory tells the repository root apart.

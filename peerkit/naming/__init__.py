"""Identity and naming: wallet-derived master keys, per-name keys, signed IPNS name records."""

"""Rendezvous: peers register under namespaces; others discover them (libp2p rendezvous style)."""

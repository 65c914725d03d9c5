"""Routing: find content, names and peers beyond the peers this one is connected to (a
Kademlia DHT on peerkit's own protocol; docs/routing.md)."""

"""Signature domains are one prefix-free namespace: no signed string of one kind can be read as
another kind's."""

from itertools import permutations

from peerkit import domains
from peerkit.auth.tokens import DOMAINS


def test_no_domain_is_a_prefix_of_another():
    every = {
        **{name: v for name, v in vars(domains).items() if isinstance(v, bytes)},
        **{f"auth {kind}": prefix for kind, prefix in DOMAINS.items()},
    }
    assert len(set(every.values())) == len(every)
    for (a, pa), (b, pb) in permutations(every.items(), 2):
        assert not pb.startswith(pa), f"{a}'s domain is a prefix of {b}'s"

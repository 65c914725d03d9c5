"""The sample app, made with `peerkit generate` from sample_app/schemas/ (CI checks it has not
drifted), and the demo that plays the whitepaper's three scenarios on the sample formation:
content under a mutable name, collaborative editing, and a custom service on the app's own nodes.
"""

"""The sample app: a small greeter/chat service that the demo runs on three peers.

Later issues grow it into the whitepaper's three scenarios (content, collaboration, own nodes).
"""

"""Local DynamoDB engines the library can start on 127.0.0.1: moto's threaded server and Amazon's DynamoDB Local.

Owns starting, probing and stopping an engine process or thread (`engines`) and the patches
that make moto atomic and fast where DynamoDB is (`moto_fixes`, applied only to the moto
versions they were tested on). It may import `contract` (errors) and moto, nothing above:
the client side of talking to an engine is `dynamo`'s.
"""
